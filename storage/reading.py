"""How report queries read: table column aliases, rows through a Database or an Engine, window expressions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, func, literal
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import Database, describe_error
from storage.errors import StorageError
from storage.schema import (
    Detection,
    DetectionRollup,
    FetchFailure,
    Image,
    ImageRollup,
    ModelVersion,
    Source,
    Thumbnail,
)

D = Detection.__table__.c
R = DetectionRollup.__table__.c
G = ImageRollup.__table__.c
IM = Image.__table__.c
S = Source.__table__.c
T = Thumbnail.__table__.c
M = ModelVersion.__table__.c
F = FetchFailure.__table__.c


Reader = Database | Engine  # what report queries read through


def engine_of(db: Reader) -> Engine:
    """The engine behind a Database (or the engine itself)."""
    return db.engine if isinstance(db, Database) else db


def read_rows(db: Reader, statement: Any) -> list[dict[str, Any]]:
    """The statement's rows as dicts; driver errors become one-line StorageErrors."""
    engine = engine_of(db)
    try:
        with engine.connect() as conn:
            return [dict(row) for row in conn.execute(statement).mappings()]
    except SQLAlchemyError as exc:
        raise StorageError(f"report query failed: {describe_error(exc)}") from exc


def day_of(column, dialect: str):
    """The UTC calendar day of a timestamp column as 'YYYY-MM-DD' text, on SQLite or PostgreSQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD", type_=String)
    # SQLite keeps naive UTC text 'YYYY-MM-DD HH:MM:SS...' (storage.schema.UTCDateTime).
    return func.substr(column, 1, 10, type_=String)


def window_of(column, windows: Sequence[Any]):
    """A CASE expression naming the window (objects with name/start/end) a timestamp falls in."""
    return case(
        *[(and_(column >= w.start, column < w.end), literal(w.name)) for w in windows], else_=literal(None, String)
    )


def span_of(windows: Sequence[Any]) -> tuple[datetime, datetime]:
    """From the first window's start to the last one's end."""
    return min(w.start for w in windows), max(w.end for w in windows)


def accepted_only(include_reposts: bool) -> list[Any]:
    """Conditions for accepted photos (originals only unless reposts are included)."""
    conditions = [IM.status == "accepted"]
    if not include_reposts:
        conditions.append(IM.repost_of_id.is_(None))
    return conditions
