"""The outbox of batches a distributed executor works through, worker heartbeats and the broker's status."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.cleaning import clean_text
from storage.engine import Database
from storage.errors import StorageError
from storage.redaction import redact_text, redact_url
from storage.schema import Batch, BrokerStatus, Image, Source, Worker, utcnow
from storage.statements import chunks, dialect_insert

_BROKER_ROW = 1
_ERROR_CHARS = 2000


def enqueue_batch(
    db: Database,
    source_id: int | None,
    kind: str,
    refs: list[Any],
    cursor: dict[str, Any] | None = None,
    model_path: str | None = None,
) -> int:
    """Write one pending batch and advance the source's cursor in the same transaction; returns its id."""
    try:
        json.dumps(refs)
        json.dumps(cursor)
    except (TypeError, ValueError) as exc:
        raise StorageError(f"batch refs or cursor cannot be stored as JSON: {exc}") from None
    with db.session(write=True) as session:
        batch = Batch(
            source_id=source_id,
            kind=kind,
            refs=refs,
            model_path=model_path,
            state="pending",
            attempts=0,
            created_at=utcnow(),
        )
        session.add(batch)
        if cursor is not None and source_id is not None:
            session.execute(update(Source).where(Source.id == source_id).values(cursor=cursor))
        session.flush()
        return batch.id


def get_batch(db: Database, batch_id: int) -> dict[str, Any] | None:
    """The batch as a dict (with its source's name), or None when there is no such batch."""
    with db.session() as session:
        row = session.execute(
            select(Batch, Source.name).outerjoin(Source, Source.id == Batch.source_id).where(Batch.id == batch_id)
        ).first()
        if row is None:
            return None
        batch, source_name = row
        return {column: getattr(batch, column) for column in Batch.__table__.columns.keys()} | {
            "source_name": source_name
        }


def mark_started(db: Database, batch_id: int, worker: str) -> None:
    """Note that a worker took a pending batch (one more attempt)."""
    with db.session(write=True) as session:
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.state == "pending")
            .values(started_at=utcnow(), worker=worker, attempts=Batch.attempts + 1)
        )


def set_payload_digest(db: Database, batch_id: int, digest: str | None) -> None:
    """Keep the sha256 of the classify message a fetch task is about to send (the only one classify accepts)."""
    with db.session(write=True) as session:
        session.execute(
            update(Batch).where(Batch.id == batch_id, Batch.state == "pending").values(payload_sha256=digest)
        )


def claim_for_done_in(session: Session, batch_id: int) -> bool:
    """Lock the batch row for the rest of the caller's transaction; False when it is done already."""
    state = session.scalar(select(Batch.state).where(Batch.id == batch_id).with_for_update())
    if state is None:
        raise StorageError(f"no batch with id {batch_id}")
    return state != "done"


def mark_done_in(session: Session, batch_id: int, worker: str, result: dict[str, Any]) -> None:
    """Mark the batch done inside the caller's transaction (after claim_for_done_in), counting the worker's task."""
    now = utcnow()
    session.execute(
        update(Batch).where(Batch.id == batch_id).values(state="done", done_at=now, worker=worker, result=result)
    )
    session.execute(update(Worker).where(Worker.name == worker).values(tasks_done=Worker.tasks_done + 1))


def mark_published(db: Database, batch_ids: Sequence[int]) -> None:
    """Note that these batches were just sent to the broker."""
    now = utcnow()
    with db.session(write=True) as session:
        for chunk in chunks(sorted(batch_ids)):
            session.execute(update(Batch).where(Batch.id.in_(chunk)).values(published_at=now))


def due_batches(
    db: Database, redeliver_after: float, everything: bool = False, limit: int = 10_000, started_only: bool = False
) -> list[int]:
    """Pending batches to send (again): never sent, or sent over `redeliver_after` s ago; all when `everything`.

    `started_only`: of those sent before, only the ones a worker took and did not finish (the others are
    presumably still waiting in a queue that is not empty)."""
    query = select(Batch.id).where(Batch.state == "pending").order_by(Batch.id).limit(limit)
    if not everything:
        cutoff = utcnow() - timedelta(seconds=redeliver_after)
        late = Batch.published_at < cutoff
        if started_only:
            late = late & Batch.started_at.is_not(None)
        query = query.where((Batch.published_at.is_(None)) | late)
    with db.session() as session:
        return list(session.scalars(query))


def record_batch_error(db: Database, batch_id: int, error: str) -> None:
    """Keep the last error a worker met on a pending batch (shown by `monitor status`)."""
    with db.session(write=True) as session:
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.state == "pending")
            .values(result={"error": clean_text(redact_text(error), _ERROR_CHARS)})
        )


def fail_batch(db: Database, batch_id: int, error: str) -> None:
    """Give up a pending batch at once with its error (data no retry can fix)."""
    with db.session(write=True) as session:
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.state == "pending")
            .values(state="failed", done_at=utcnow(), result={"error": clean_text(redact_text(error), _ERROR_CHARS)})
        )


def fail_exhausted(db: Database, max_attempts: int) -> list[dict[str, Any]]:
    """Mark pending batches that workers took `max_attempts` times without finishing as failed; returns them."""
    with db.session(write=True) as session:
        rows = session.execute(
            select(Batch.id, Batch.result).where(Batch.state == "pending", Batch.attempts >= max_attempts)
        ).all()
        for chunk in chunks([row.id for row in rows]):
            session.execute(update(Batch).where(Batch.id.in_(chunk)).values(state="failed", done_at=utcnow()))
    return [{"id": row.id, "error": (row.result or {}).get("error")} for row in rows]


def batch_states(db: Database, batch_ids: Iterable[int]) -> dict[str, int]:
    """How many of these batches are pending and done."""
    counts = {"pending": 0, "done": 0}
    with db.session() as session:
        for chunk in chunks(sorted(set(batch_ids))):
            for state, n in session.execute(
                select(Batch.state, func.count()).where(Batch.id.in_(chunk)).group_by(Batch.state)
            ):
                counts[state] = counts.get(state, 0) + int(n)
    return counts


def batch_results(db: Database, batch_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The result counts of these batches (done ones only)."""
    found: list[dict[str, Any]] = []
    with db.session() as session:
        for chunk in chunks(sorted(set(batch_ids))):
            found.extend(session.scalars(select(Batch.result).where(Batch.id.in_(chunk), Batch.state == "done")))
    return [r or {} for r in found]


def outbox_backlog(db: Database) -> dict[str, Any]:
    """Pending batches (how many, when the oldest was written) and failed ones (how many, the last error)."""
    with db.session() as session:
        count, oldest = session.execute(
            select(func.count(), func.min(Batch.created_at)).where(Batch.state == "pending")
        ).one()
        failed = int(session.scalar(select(func.count()).where(Batch.state == "failed")))
        last = session.execute(
            select(Batch.id, Batch.result).where(Batch.state == "failed").order_by(Batch.id.desc()).limit(1)
        ).first()
    return {
        "pending": int(count),
        "oldest": oldest,
        "failed": failed,
        "last_failure": ({"id": last.id, "error": (last.result or {}).get("error")} if last else None),
    }


def prune_done(db: Database, older_than: float) -> int:
    """Delete batches done more than `older_than` seconds ago; returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    with db.session(write=True) as session:
        return session.execute(delete(Batch).where(Batch.state == "done", Batch.done_at < cutoff)).rowcount or 0


# -- workers ----------------------------------------------------------------------------------
def heartbeat(db: Database, name: str, pid: int, queues: Sequence[str], concurrency: int, started_at: datetime) -> None:
    """Create or refresh the worker's row."""
    now = utcnow()
    with db.session(write=True) as session:
        statement = dialect_insert(session, Worker.__table__).values(
            name=name,
            pid=pid,
            queues=",".join(queues),
            concurrency=concurrency,
            started_at=started_at,
            last_seen=now,
            tasks_done=0,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "pid": pid,
                    "queues": ",".join(queues),
                    "concurrency": concurrency,
                    "last_seen": now,
                    "started_at": started_at,
                },
            )
        )


def list_workers(db: Database) -> list[dict[str, Any]]:
    """Every worker that ever reported, newest heartbeat first."""
    with db.session() as session:
        return [
            {column: getattr(w, column) for column in Worker.__table__.columns.keys()}
            for w in session.scalars(select(Worker).order_by(Worker.last_seen.desc()))
        ]


# -- the broker -------------------------------------------------------------------------------
def record_broker(db: Database, url: str, reachable: bool, error: str | None = None) -> bool:
    """Store whether the broker answered; returns True when this ends an outage."""
    now, url = utcnow(), redact_url(url)
    with db.session(write=True) as session:
        row = session.get(BrokerStatus, _BROKER_ROW, with_for_update=True)
        if row is None:
            row = BrokerStatus(id=_BROKER_ROW, url=url, reachable=True, last_checked=now)
            session.add(row)
        recovered = reachable and not row.reachable
        row.url, row.last_checked = url, now
        if reachable:
            row.reachable, row.down_since, row.last_error = True, None, None
        else:
            if row.reachable or row.down_since is None:
                row.down_since = now
            row.reachable, row.last_error = False, clean_text(redact_text(error or "unreachable"), _ERROR_CHARS)
        return recovered


def broker_status(db: Database) -> dict[str, Any] | None:
    """The last recorded broker status, or None before the scheduler first checked."""
    with db.session() as session:
        row = session.get(BrokerStatus, _BROKER_ROW)
        if row is None:
            return None
        return {column: getattr(row, column) for column in BrokerStatus.__table__.columns.keys()}


# -- reclassify -------------------------------------------------------------------------------
def accepted_images(
    db: Database, since: datetime | None = None, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Accepted photos with id > after_id (posted at or after `since`), by id: id, uri, sha256, source name."""
    query = (
        select(Image.id, Image.uri, Image.sha256, Source.name.label("source"))
        .outerjoin(Source, Source.id == Image.source_id)
        .where(Image.status == "accepted", Image.id > after_id)
        .order_by(Image.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(Image.posted_at >= since)
    with db.session() as session:
        return [row._asdict() for row in session.execute(query)]


def count_accepted_images(db: Database, since: datetime | None = None) -> int:
    """How many accepted photos there are (posted at or after `since`)."""
    query = select(func.count()).select_from(Image).where(Image.status == "accepted")
    if since is not None:
        query = query.where(Image.posted_at >= since)
    with db.session() as session:
        return int(session.scalar(query))
