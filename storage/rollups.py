"""Rollup tables kept beside the raw rows: counted into as batches are stored, or rebuilt from scratch.

Reports read these instead of scanning every detection (storage.queries); their numbers are the
raw tables' numbers, per whole UTC day.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Date, cast, delete, func, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage.schema import NO_PLACE, NO_REASON, NO_SOURCE_ID, Detection, DetectionRollup, Image, ImageRollup
from storage.statements import dialect_insert

DETECTION_KEY = ("model_version_id", "day", "brand", "source_id", "place", "repost")
DETECTION_SUMS = ("photos", "reach", "reach_known")
IMAGE_KEY = ("day", "source_id", "place", "status", "reject_reason", "repost")
IMAGE_SUMS = ("images", "reach", "reach_known", "latitude_sum", "longitude_sum", "located")


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of a timestamp (a naive one is UTC, as storage.schema.UTCDateTime stores it)."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def add_images(session: Session, images: Iterable[Mapping[str, Any]]) -> None:
    """Count newly inserted photos (images rows, repost_of_id final) into image_rollups."""
    totals: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0, 0])
    for row in images:
        key = (
            utc_day(row["posted_at"]),
            row["source_id"] or NO_SOURCE_ID,
            row["place"] or NO_PLACE,
            row["status"],
            row["reject_reason"] or NO_REASON,
            row["repost_of_id"] is not None,
        )
        sums = totals[key]
        sums[0] += 1
        if row["reach"] is not None:
            sums[1] += row["reach"]
            sums[2] += 1
        if row["latitude"] is not None:
            sums[3] += row["latitude"]
            sums[5] += 1
        if row["longitude"] is not None:
            sums[4] += row["longitude"]
    _upsert(session, ImageRollup.__table__, IMAGE_KEY, IMAGE_SUMS, totals)


def add_detections(session: Session, model_version_id: int, found: Iterable[tuple[Mapping[str, Any], str]]) -> None:
    """Count newly inserted detections, given as (photo: posted_at, source_id, place, reach, repost_of_id; brand)."""
    totals: dict[tuple, list] = defaultdict(lambda: [0, 0, 0])
    for image, brand in found:
        key = (
            model_version_id,
            utc_day(image["posted_at"]),
            brand,
            image["source_id"] or NO_SOURCE_ID,
            image["place"] or NO_PLACE,
            image["repost_of_id"] is not None,
        )
        sums = totals[key]
        sums[0] += 1
        if image["reach"] is not None:
            sums[1] += image["reach"]
            sums[2] += 1
    _upsert(session, DetectionRollup.__table__, DETECTION_KEY, DETECTION_SUMS, totals)


def _upsert(
    session: Session, table: Any, keys: tuple[str, ...], sums: tuple[str, ...], totals: dict[tuple, list]
) -> None:
    """Add {key: sums} to the rollup's rows, creating the missing ones."""
    if not totals:
        return
    # Sorted by key so two writers adding to the same rows lock them in the same order (no deadlock).
    rows = [(*key, *values) for key, values in sorted(totals.items())]
    columns = keys + sums
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            _unnest_upsert(table, keys, sums), {f"c{n}": [row[n] for row in rows] for n in range(len(columns))}
        )
        return
    statement = dialect_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: table.c[name] + statement.excluded[name] for name in sums}
    )
    session.execute(statement, [dict(zip(columns, row, strict=False)) for row in rows])


@lru_cache(maxsize=4)
def _unnest_upsert(table: Any, keys: tuple[str, ...], sums: tuple[str, ...]) -> Any:
    """PostgreSQL: one upsert over column arrays, in array order (half the time executemany takes)."""
    from sqlalchemy.dialects import postgresql

    columns = ", ".join(keys + sums)
    arrays = ", ".join(
        f"CAST(:c{n} AS {table.c[name].type.compile(postgresql.dialect())}[])" for n, name in enumerate(keys + sums)
    )
    updates = ", ".join(f"{name} = {table.name}.{name} + excluded.{name}" for name in sums)
    return text(
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM unnest({arrays}) "
        f"WITH ORDINALITY AS u({columns}, n) ORDER BY n "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


# Constants as literal SQL, not bound parameters: PostgreSQL matches a GROUP BY expression to the
# selected one by its text, and two parameters never match.
def _const(value: Any) -> Any:
    return literal_column(repr(value) if isinstance(value, str) else str(value))


def _day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return cast(func.timezone(_const("UTC"), column), Date)
    return func.substr(column, _const(1), _const(10))  # SQLite keeps naive UTC text; Date is stored as 'YYYY-MM-DD'


def _recomputed(dialect: str) -> list[tuple[Any, tuple[str, ...], Any]]:
    """(rollup table, its columns, the SELECT ... GROUP BY over the raw tables that fills them)."""
    d, i = Detection.__table__.c, Image.__table__.c
    repost = i.repost_of_id.is_not(None)
    source, place = func.coalesce(d.source_id, _const(NO_SOURCE_ID)), func.coalesce(i.place, _const(NO_PLACE))
    day = _day(d.posted_at, dialect)
    detections = (
        select(
            d.model_version_id, day, d.brand, source, place, repost, func.count(), _sum(i.reach), func.count(i.reach)
        )
        .select_from(Detection.__table__.join(Image.__table__, i.id == d.image_id))
        .group_by(d.model_version_id, day, d.brand, source, place, repost)
    )
    source = func.coalesce(i.source_id, _const(NO_SOURCE_ID))
    reason = func.coalesce(i.reject_reason, _const(NO_REASON))
    day = _day(i.posted_at, dialect)
    images = select(
        day,
        source,
        place,
        i.status,
        reason,
        repost,
        func.count(),
        _sum(i.reach),
        func.count(i.reach),
        func.coalesce(func.sum(i.latitude), 0.0),
        func.coalesce(func.sum(i.longitude), 0.0),
        func.count(i.latitude),
    ).group_by(day, source, place, i.status, reason, repost)
    return [
        (DetectionRollup.__table__, DETECTION_KEY + DETECTION_SUMS, detections),
        (ImageRollup.__table__, IMAGE_KEY + IMAGE_SUMS, images),
    ]


def rebuild_rollups(connection: Connection) -> dict[str, int]:
    """Recompute both rollups from the raw tables (INSERT ... SELECT ... GROUP BY); returns rows per table."""
    if connection.dialect.name == "postgresql":  # writers wait until the rebuild commits: none counted twice or lost
        connection.execute(text("LOCK TABLE images, detections IN SHARE MODE"))
        connection.execute(text("LOCK TABLE detection_rollups, image_rollups IN EXCLUSIVE MODE"))
    written = {}
    for table, columns, recomputed in _recomputed(connection.dialect.name):
        connection.execute(delete(table))
        connection.execute(table.insert().from_select(columns, recomputed))
        written[table.name] = connection.execute(select(func.count()).select_from(table)).scalar_one()
    return written


def rollup_drift(connection: Connection) -> dict[str, int]:
    """How many rollup rows differ from what rebuild_rollups would write (missing, extra, other sums), per table."""
    drift = {}
    for table, columns, recomputed in _recomputed(connection.dialect.name):
        stored = _by_key(connection.execute(select(*table.c[columns])), columns)
        wanted = _by_key(connection.execute(recomputed), columns)
        drift[table.name] = sum(
            1 for key in stored.keys() | wanted.keys() if not _same(stored.get(key), wanted.get(key))
        )
    return drift


def _by_key(rows: Iterable[Any], columns: tuple[str, ...]) -> dict[tuple, tuple]:
    """Rows as {key: sums}, keys alike from the table and the raw SELECT (SQLite's day as text, repost 0/1)."""
    keys = columns.index("repost") + 1
    day = columns.index("day")
    found = {}
    for row in rows:
        key = list(row[:keys])
        key[day] = date.fromisoformat(key[day]) if isinstance(key[day], str) else key[day]
        key[-1] = bool(key[-1])
        found[tuple(key)] = tuple(row[keys:])
    return found


def _same(stored: tuple | None, wanted: tuple | None) -> bool:
    if stored is None or wanted is None:
        return stored is wanted
    # Coordinate sums are floats added in another order: equal up to rounding.
    return all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6) if isinstance(a, float) or isinstance(b, float) else a == b
        for a, b in zip(stored, wanted, strict=False)
    )


def _sum(column: Any) -> Any:
    return cast(func.coalesce(func.sum(column), 0), BigInteger)
