"""Notifications (alerts and scheduled reports): recorded once per period, delivered and retried until taken."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from storage.errors import StorageError
from storage.schema import Notification, utcnow
from storage.statements import dialect_insert

N = Notification.__table__.c
MAX_ATTEMPTS = 20  # deliveries given up after this many tries (the row stays, with its last error)


def _engine(db: Any) -> Any:
    return db.engine if hasattr(db, "engine") else db


def _failed(exc: SQLAlchemyError) -> StorageError:
    original = getattr(exc, "orig", None) or exc
    return StorageError(f"notification store failed: {str(original).splitlines()[0]}")


def record(
    db: Any,
    kind: str,
    name: str,
    period: str,
    message: str,
    *,
    brand: str = "",
    detail: dict[str, Any] | None = None,
    channels: list[str] | tuple[str, ...] = (),
    now: datetime | None = None,
) -> int | None:
    """Store a notification once: its id, or None when one for (kind, name, brand, period) already exists."""
    row = {
        "kind": kind,
        "name": name,
        "brand": brand,
        "period": period,
        "message": message,
        "detail": detail or {},
        "channels": ",".join(channels),
        "delivered": "",
        "attempts": 0,
        "created_at": now or utcnow(),
        "next_try_at": now or utcnow(),
    }
    try:
        with _engine(db).begin() as conn:
            statement = dialect_insert(conn, Notification.__table__).values(row).on_conflict_do_nothing()
            if conn.execute(statement).rowcount == 0:
                return None
            return conn.execute(
                select(N.id).where(N.kind == kind, N.name == name, N.brand == brand, N.period == period)
            ).scalar_one()
    except SQLAlchemyError as exc:
        raise _failed(exc) from exc


def last_created(db: Any, kind: str, name: str, brand: str = "") -> datetime | None:
    """When the newest notification of this kind, name and brand was recorded (cool-downs start there)."""
    try:
        with _engine(db).connect() as conn:
            return conn.execute(
                select(func.max(N.created_at)).where(N.kind == kind, N.name == name, N.brand == brand)
            ).scalar()
    except SQLAlchemyError as exc:
        raise _failed(exc) from exc


def has_period(db: Any, kind: str, name: str, period: str, brand: str = "") -> bool:
    """Whether this period was already recorded (a scheduled report is written once per period)."""
    try:
        with _engine(db).connect() as conn:
            found = conn.execute(
                select(N.id).where(N.kind == kind, N.name == name, N.brand == brand, N.period == period)
            ).first()
    except SQLAlchemyError as exc:
        raise _failed(exc) from exc
    return found is not None


def due(db: Any, now: datetime | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """Notifications (of one kind, or all) with a channel still to deliver to, whose next try has come."""
    now = now or utcnow()
    chosen = [] if kind is None else [N.kind == kind]
    try:
        with _engine(db).connect() as conn:
            rows = conn.execute(
                select(Notification.__table__)
                .where(N.channels != N.delivered, N.attempts < MAX_ATTEMPTS, N.next_try_at <= now, *chosen)
                .order_by(N.id)
            ).mappings()
            return [dict(r) for r in rows]
    except SQLAlchemyError as exc:
        raise _failed(exc) from exc


def mark_attempt(
    db: Any,
    notification_id: int,
    delivered: list[str],
    error: str | None,
    retry_in: timedelta,
    now: datetime | None = None,
) -> None:
    """After a delivery try: the channels that took it so far, the error (None when all did), the next try."""
    now = now or utcnow()
    values = {
        "delivered": ",".join(delivered),
        "attempts": N.attempts + 1,
        "last_error": error,
        "next_try_at": now + retry_in if error else None,
    }
    try:
        with _engine(db).begin() as conn:
            conn.execute(update(Notification.__table__).where(N.id == notification_id).values(**values))
    except SQLAlchemyError as exc:
        raise _failed(exc) from exc


def recent(db: Any, limit: int = 10) -> list[dict[str, Any]]:
    """The newest notifications, newest first (for `monitor status`)."""
    try:
        with _engine(db).connect() as conn:
            rows = conn.execute(select(Notification.__table__).order_by(N.created_at.desc(), N.id.desc()).limit(limit))
            return [dict(r) for r in rows.mappings()]
    except SQLAlchemyError as exc:
        raise _failed(exc) from exc


def forget(db: Any, kind: str, name: str) -> int:
    """Delete the notifications of one rule or report (to fire or write again); returns how many."""
    try:
        with _engine(db).begin() as conn:
            return conn.execute(delete(Notification.__table__).where(N.kind == kind, N.name == name)).rowcount
    except SQLAlchemyError as exc:
        raise _failed(exc) from exc
