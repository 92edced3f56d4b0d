"""Photo attempts: how often a photo's bytes were in flight (decode + classify) when their process died.

A row exists only while a photo is being worked on or after a crash: it is written (and committed) before the
risky work starts and deleted in the transaction that stores the photo (or, for a stored photo being re-scored,
right after its work). A row whose photo never comes back is pruned by age (`prune_attempts`, from `monitor run`).
monitor.batch decides what a count means.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.engine import Database
from storage.schema import PhotoAttempt, utcnow
from storage.statements import chunks, dialect_insert


def attempts_of(db: Database, hashes: Iterable[str]) -> dict[str, int]:
    """The counts of those of these photos that have one ({sha256: count})."""
    found: dict[str, int] = {}
    with db.session() as session:
        for chunk in chunks(sorted(set(hashes))):
            query = select(PhotoAttempt.sha256, PhotoAttempt.attempts).where(PhotoAttempt.sha256.in_(chunk))
            found.update({sha: int(n) for sha, n in session.execute(query) if n})
    return found


def add_attempts(db: Database, hashes: Iterable[str]) -> None:
    """Count one more attempt of each photo, in one committed statement (before their work starts)."""
    wanted = sorted(set(hashes))
    if not wanted:
        return
    now = utcnow()
    with db.session(write=True) as session:
        statement = dialect_insert(session, PhotoAttempt.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["sha256"],
            set_={"attempts": PhotoAttempt.__table__.c.attempts + 1, "last_at": statement.excluded.last_at},
        )
        # Sorted, so two processes marking overlapping batches lock rows in the same order.
        session.execute(statement, [{"sha256": sha, "attempts": 1, "last_at": now} for sha in wanted])


def forget_attempts(db: Database, hashes: Iterable[str]) -> None:
    """Drop the photos' counts: their work finished in this process (they did not kill it)."""
    with db.session(write=True) as session:
        forget_attempts_in(session, hashes)


def forget_attempts_in(session: Session, hashes: Iterable[str]) -> None:
    """`forget_attempts` inside the caller's transaction (the one that stores the photos)."""
    for chunk in chunks(sorted(set(hashes))):
        session.execute(delete(PhotoAttempt).where(PhotoAttempt.sha256.in_(chunk)))


def prune_attempts(db: Database, older_than: float) -> int:
    """Delete counts last raised more than `older_than` seconds ago (their photo never came back); returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    with db.session(write=True) as session:
        return session.execute(delete(PhotoAttempt).where(PhotoAttempt.last_at < cutoff)).rowcount or 0
