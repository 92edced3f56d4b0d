"""Source bookkeeping: the row per source, its cursor, poll outcomes, failed photos worth another try, status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update

from storage.cleaning import clean_text
from storage.engine import Database
from storage.errors import StorageError
from storage.redaction import redact_text
from storage.schema import Detection, FetchFailure, Image, Source, utcnow
from storage.statements import dialect_insert

_ERROR_CHARS = 2000


def ensure_source(db: Database, name: str, kind: str) -> int:
    """The id of the source row with this name, created when new (its kind kept current)."""
    with db.session(write=True) as session:
        session.execute(
            dialect_insert(session, Source)
            .values(name=name, kind=kind, consecutive_failures=0, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        session.execute(update(Source).where(Source.name == name, Source.kind != kind).values(kind=kind))
        return session.scalar(select(Source.id).where(Source.name == name))


def get_cursor(db: Database, source_id: int) -> dict[str, Any] | None:
    """The source's committed cursor, or None before its first batch."""
    with db.session() as session:
        return session.scalar(select(Source.cursor).where(Source.id == source_id))


def consecutive_failures(db: Database, source_id: int) -> int:
    """How many polls of the source failed in a row (0 for an unknown source)."""
    with db.session() as session:
        return int(session.scalar(select(Source.consecutive_failures).where(Source.id == source_id)) or 0)


def due_refetches(
    db: Database,
    source_id: int,
    reasons: Iterable[str],
    attempts: int,
    after: float,
    now: datetime | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Stored refs of this source's fetch failures worth another try: a reason in `reasons`, fewer than
    `attempts` tries so far, and `after` seconds (doubled per earlier retry) since the last one; oldest first."""
    now = now or utcnow()
    reasons = sorted(set(reasons))
    if attempts <= 1 or not reasons:
        return []
    with db.session() as session:
        rows = session.execute(
            select(FetchFailure.ref, FetchFailure.attempts, FetchFailure.last_at)
            .where(
                FetchFailure.source_id == source_id,
                FetchFailure.ref.is_not(None),
                FetchFailure.reason.in_(reasons),
                FetchFailure.attempts < attempts,
            )
            .order_by(FetchFailure.last_at, FetchFailure.id)
            .limit(limit)
        ).all()
    return [ref for ref, tried, last_at in rows if (now - last_at).total_seconds() >= after * 2 ** max(tried - 1, 0)]


def record_poll(
    db: Database,
    source_id: int,
    ok: bool,
    error: str | None = None,
    next_try_at: datetime | None = None,
    warning: str | None = None,
) -> None:
    """Note a poll: success resets the failure count (a `warning` it worked around is kept as the last error,
    not counted); failure stores the error and counts it."""
    now = utcnow()
    values: dict[str, Any] = {"last_polled_at": now, "next_try_at": next_try_at}
    if ok:
        values.update(last_success_at=now, consecutive_failures=0)
        if warning:
            values.update(last_error=clean_text(redact_text(f"warning: {warning}"), _ERROR_CHARS), last_error_at=now)
    else:
        values.update(
            last_error=clean_text(redact_text(error or "unknown error"), _ERROR_CHARS),
            last_error_at=now,
            consecutive_failures=Source.consecutive_failures + 1,
        )
    with db.session(write=True) as session:
        found = session.execute(update(Source).where(Source.id == source_id).values(**values)).rowcount
    if not found:
        raise StorageError(f"no source with id {source_id}")


def source_status(db: Database) -> list[dict[str, Any]]:
    """Each source's poll status with its image and detection counts, by name."""
    accepted = Image.status == "accepted"
    images = (
        select(
            Image.source_id.label("source_id"),
            func.sum(case((accepted, 1), else_=0)).label("accepted"),
            func.sum(case((accepted, 0), else_=1)).label("rejected"),
            func.sum(case((accepted & Image.repost_of_id.is_not(None), 1), else_=0)).label("reposts"),
        )
        .group_by(Image.source_id)
        .subquery()
    )
    detections = (
        select(Detection.source_id.label("source_id"), func.count().label("n")).group_by(Detection.source_id).subquery()
    )
    failures = (
        select(FetchFailure.source_id.label("source_id"), func.count().label("n"))
        .group_by(FetchFailure.source_id)
        .subquery()
    )
    query = (
        select(
            Source.id,
            Source.name,
            Source.kind,
            Source.last_polled_at,
            Source.last_success_at,
            Source.last_error,
            Source.last_error_at,
            Source.consecutive_failures,
            Source.next_try_at,
            func.coalesce(images.c.accepted, 0).label("images_accepted"),
            func.coalesce(images.c.rejected, 0).label("images_rejected"),
            func.coalesce(images.c.reposts, 0).label("reposts"),
            func.coalesce(detections.c.n, 0).label("detections"),
            func.coalesce(failures.c.n, 0).label("fetch_failures"),
        )
        .outerjoin(images, images.c.source_id == Source.id)
        .outerjoin(detections, detections.c.source_id == Source.id)
        .outerjoin(failures, failures.c.source_id == Source.id)
        .order_by(Source.name)
    )
    counts = ("images_accepted", "images_rejected", "reposts", "detections", "fetch_failures")
    with db.session() as session:
        # Errors are stored redacted; rows written before that are redacted here.
        return [
            {**row._asdict(), "last_error": redact_text(row.last_error), **{k: int(row._mapping[k]) for k in counts}}
            for row in session.execute(query)
        ]
