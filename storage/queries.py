"""Reads for reports: every aggregation runs in SQL (GROUP BY), so memory does not grow with rows.

The counts come from the rollups (storage.rollups) by default; `raw=True` aggregates the raw
detections and images instead, with the same results (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    text,
)

from storage.errors import StorageError
from storage.reading import (
    IM,
    D,
    G,
    R,
    Reader,
    S,
    accepted_only,
    day_of,
    engine_of,
    read_rows,
    span_of,
    window_of,
)
from storage.rollups import utc_day
from storage.schema import (
    NO_PLACE,
    NO_REASON,
    Detection,
    Image,
    Source,
    UTCDateTime,
)


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """The whole UTC days [first, stop) that [start, end) covers; a rollup cannot split a day."""
    for moment in (start, end):
        if (moment.astimezone(UTC) if moment.tzinfo else moment).time() != time(0):
            raise StorageError(f"rollups count whole UTC days: {moment.isoformat()} is not midnight UTC")
    return utc_day(start), utc_day(end)


def _total(column: Any, name: str) -> Any:
    """sum() as an integer on PostgreSQL too (where sum(bigint) is numeric), as count() is on the raw path."""
    return cast(func.sum(column), BigInteger).label(name)


def _known_sum(column: Any, known: Any, name: str) -> Any:
    """sum() that is NULL when no row had a value, as SQL's sum over the raw NULLs is."""
    return case((func.sum(known) > 0, func.sum(column)), else_=None).label(name)


def _day_window(column: Any, windows: Sequence[Any]) -> Any:
    """window_of for a DATE column: windows are whole UTC days."""
    return case(
        *[(and_(column >= utc_day(w.start), column < utc_day(w.end)), literal(w.name)) for w in windows],
        else_=literal(None, String),
    )


def _iso_days(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["day"] = row["day"].isoformat()
    return rows


def detections_in_span(db: Reader, model_version_id: int, start: datetime, end: datetime, raw: bool = False) -> int:
    """How many detections one model version made on photos posted in [start, end)."""
    if raw:
        statement = select(func.count().label("n")).where(
            D.model_version_id == model_version_id, D.posted_at >= start, D.posted_at < end
        )
    else:
        first, stop = _days(start, end)
        statement = select(cast(func.coalesce(func.sum(R.photos), 0), BigInteger).label("n")).where(
            R.model_version_id == model_version_id, R.day >= first, R.day < stop
        )
    return int(read_rows(db, statement)[0]["n"])


def brand_counts_by_day(
    db: Reader, model_version_id: int, start: datetime, end: datetime, include_reposts: bool = False, raw: bool = False
) -> list[dict[str, Any]]:
    """Photos showing each brand per UTC day and source: day, brand, source, photos.

    Raw: scans detections alone (they carry posted_at and source_id; the pipeline classifies accepted
    photos only), then, when the span holds reposts, subtracts the detections on them.
    """
    if not raw:
        first, stop = _days(start, end)
        counted = (
            select(
                R.day.label("day"), R.brand.label("brand"), R.source_id.label("source_id"), _total(R.photos, "photos")
            )
            .where(
                R.model_version_id == model_version_id, R.day >= first, R.day < stop, *_no_reposts(R, include_reposts)
            )
            .group_by(R.day, R.brand, R.source_id)
        )
        return _iso_days(_with_source_names(db, counted.subquery()))
    dialect = engine_of(db).dialect.name
    day = day_of(D.posted_at, dialect).label("day")
    counted = (
        select(day, D.brand.label("brand"), D.source_id.label("source_id"), func.count().label("photos"))
        .where(D.model_version_id == model_version_id, D.posted_at >= start, D.posted_at < end)
        .group_by(day, D.brand, D.source_id)
    )
    rows = _with_source_names(db, counted.subquery())
    if include_reposts or not _has_reposts(db, start, end):
        return rows
    minus_rows = _repost_counts(db, model_version_id, start, end)
    minus = {(r["day"], r["brand"], r["source"]): r["photos"] for r in minus_rows}
    for row in rows:
        row["photos"] -= minus.get((row["day"], row["brand"], row["source"]), 0)
    return [row for row in rows if row["photos"] > 0]


# Without ANALYZE statistics SQLite's planner tends to drive this join from the million
# detections; CROSS JOIN pins the loop order (reposts first) and unary + keeps posted_at's index
# out of it, so only the repost index and the detections' (image_id, ...) key are used.
_SQLITE_REPOSTS = text(
    "SELECT substr(d.posted_at, 1, 10) AS day, d.brand AS brand, s.name AS source, count(*) AS photos "
    "FROM images AS i CROSS JOIN detections AS d LEFT OUTER JOIN sources AS s ON s.id = d.source_id "
    "WHERE i.repost_of_id IS NOT NULL AND +i.posted_at >= :start AND +i.posted_at < :end "
    "AND d.image_id = i.id AND +d.model_version_id = :version "
    "GROUP BY day, d.brand, s.name"
).bindparams(
    bindparam("start", type_=UTCDateTime()),
    bindparam("end", type_=UTCDateTime()),
    bindparam("version", type_=Integer()),
)


def _repost_counts(db: Reader, model_version_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Detections on reposts per day, brand and source (what excluding reposts subtracts)."""
    dialect = engine_of(db).dialect.name
    if dialect == "sqlite":
        return read_rows(db, _SQLITE_REPOSTS.bindparams(start=start, end=end, version=model_version_id))
    day = day_of(D.posted_at, dialect).label("day")
    statement = (
        select(day, D.brand.label("brand"), S.name.label("source"), func.count().label("photos"))
        .select_from(
            Image.__table__.join(Detection.__table__, D.image_id == IM.id).outerjoin(
                Source.__table__, S.id == D.source_id
            )
        )
        .where(
            IM.repost_of_id.is_not(None),
            IM.posted_at >= start,
            IM.posted_at < end,
            D.model_version_id == model_version_id,
        )
        .group_by(day, D.brand, S.name)
    )
    return read_rows(db, statement)


def _has_reposts(db: Reader, start: datetime, end: datetime) -> bool:
    statement = select(literal(1).label("found")).where(
        select(IM.id).where(IM.repost_of_id.is_not(None), IM.posted_at >= start, IM.posted_at < end).exists()
    )
    return bool(read_rows(db, statement))


def _no_reposts(rollup: Any, include_reposts: bool) -> list[Any]:
    return [] if include_reposts else [rollup.repost.is_(False)]


def _with_source_names(db: Reader, aggregated) -> list[dict[str, Any]]:
    statement = select(aggregated.c.day, aggregated.c.brand, S.name.label("source"), aggregated.c.photos).select_from(
        aggregated.outerjoin(Source.__table__, S.id == aggregated.c.source_id)
    )
    return read_rows(db, statement)


def images_by_day(
    db: Reader, start: datetime, end: datetime, include_reposts: bool = False, raw: bool = False
) -> list[dict[str, Any]]:
    """Accepted photos (the denominator) per UTC day, source and place, with reach and coordinate sums."""
    if raw:
        day = day_of(IM.posted_at, engine_of(db).dialect.name).label("day")
        aggregated = (
            select(
                day,
                IM.source_id.label("source_id"),
                IM.place.label("place"),
                func.count().label("images"),
                func.sum(IM.reach).label("reach"),
                func.count(IM.reach).label("reach_known"),
                func.sum(IM.latitude).label("latitude_sum"),
                func.sum(IM.longitude).label("longitude_sum"),
                func.count(IM.latitude).label("located"),
            )
            .where(IM.posted_at >= start, IM.posted_at < end, *accepted_only(include_reposts))
            .group_by(day, IM.source_id, IM.place)
        ).subquery()
    else:
        first, stop = _days(start, end)
        aggregated = (
            select(
                G.day.label("day"),
                G.source_id.label("source_id"),
                func.nullif(G.place, NO_PLACE).label("place"),
                _total(G.images, "images"),
                _known_sum(G.reach, G.reach_known, "reach"),
                _total(G.reach_known, "reach_known"),
                _known_sum(G.latitude_sum, G.located, "latitude_sum"),
                _known_sum(G.longitude_sum, G.located, "longitude_sum"),
                _total(G.located, "located"),
            )
            .where(G.day >= first, G.day < stop, G.status == "accepted", *_no_reposts(G, include_reposts))
            .group_by(G.day, G.source_id, G.place)
        ).subquery()
    a = aggregated.c
    statement = select(
        a.day,
        S.name.label("source"),
        a.place,
        a.images,
        a.reach,
        a.reach_known,
        a.latitude_sum,
        a.longitude_sum,
        a.located,
    ).select_from(aggregated.outerjoin(Source.__table__, S.id == a.source_id))
    rows = read_rows(db, statement)
    return rows if raw else _iso_days(rows)


def brand_counts_by_place(
    db: Reader,
    model_version_id: int,
    windows: Sequence[Any],
    brands: Sequence[str],
    include_reposts: bool = False,
    raw: bool = False,
) -> list[dict[str, Any]]:
    """For the given brands, per window and place: photos and the reach they add up to (sources that give it)."""
    start, end = span_of(windows)
    if not raw:
        first, stop = _days(start, end)
        window = _day_window(R.day, windows).label("window")
        statement = (
            select(
                window,
                func.nullif(R.place, NO_PLACE).label("place"),
                R.brand.label("brand"),
                _total(R.photos, "photos"),
                _known_sum(R.reach, R.reach_known, "reach"),
                _total(R.reach_known, "reach_known"),
            )
            .where(
                R.model_version_id == model_version_id,
                R.brand.in_(list(brands)),
                R.day >= first,
                R.day < stop,
                *_no_reposts(R, include_reposts),
            )
            .group_by(window, R.place, R.brand)
        )
        return read_rows(db, statement)
    if engine_of(db).dialect.name == "sqlite":
        return read_rows(db, _sqlite_place_counts(model_version_id, windows, list(brands), include_reposts))
    window = window_of(D.posted_at, windows).label("window")
    statement = (
        select(
            window,
            IM.place.label("place"),
            D.brand.label("brand"),
            func.count().label("photos"),
            func.sum(IM.reach).label("reach"),
            func.count(IM.reach).label("reach_known"),
        )
        .select_from(Detection.__table__.join(Image.__table__, IM.id == D.image_id))
        .where(
            D.model_version_id == model_version_id,
            D.brand.in_(list(brands)),
            D.posted_at >= start,
            D.posted_at < end,
            *accepted_only(include_reposts),
        )
        .group_by(window, IM.place, D.brand)
    )
    return read_rows(db, statement)


def _sqlite_place_counts(model_version_id: int, windows: Sequence[Any], brands: list[str], include_reposts: bool):
    """The place query for SQLite, driven from the photos (read in order) into the detections' (image_id, brand)
    key, which covers what it needs; left to itself the planner walks the detections and fetches every photo."""
    stamp = UTCDateTime()
    cases = " ".join(f"WHEN +i.posted_at >= :s{k} AND +i.posted_at < :e{k} THEN :n{k}" for k in range(len(windows)))
    reposts = "" if include_reposts else "AND i.repost_of_id IS NULL "
    statement = text(
        f'SELECT CASE {cases} END AS "window", i.place AS place, d.brand AS brand, count(*) AS photos, '
        "sum(i.reach) AS reach, count(i.reach) AS reach_known "
        "FROM images AS i CROSS JOIN detections AS d "
        f"WHERE +i.posted_at >= :start AND +i.posted_at < :end AND i.status = 'accepted' {reposts}"
        "AND d.image_id = i.id AND d.brand IN :brands AND +d.model_version_id = :version "
        'GROUP BY "window", i.place, d.brand'
    )
    params = [
        bindparam("start", span_of(windows)[0], type_=stamp),
        bindparam("end", span_of(windows)[1], type_=stamp),
        bindparam("brands", brands, expanding=True),
        bindparam("version", model_version_id, type_=Integer()),
    ]
    for k, w in enumerate(windows):
        params += [
            bindparam(f"s{k}", w.start, type_=stamp),
            bindparam(f"e{k}", w.end, type_=stamp),
            bindparam(f"n{k}", w.name, type_=String()),
        ]
    return statement.bindparams(*params)


def rejections(db: Reader, windows: Sequence[Any], raw: bool = False) -> list[dict[str, Any]]:
    """Rejected photos per window and reason: window, reason, photos."""
    start, end = span_of(windows)
    if not raw:
        first, stop = _days(start, end)
        window = _day_window(G.day, windows).label("window")
        statement = (
            select(window, func.nullif(G.reject_reason, NO_REASON).label("reason"), _total(G.images, "photos"))
            .where(G.day >= first, G.day < stop, G.status == "rejected")
            .group_by(window, G.reject_reason)
        )
        return read_rows(db, statement)
    window = window_of(IM.posted_at, windows).label("window")
    statement = (
        select(window, IM.reject_reason.label("reason"), func.count().label("photos"))
        .where(IM.posted_at >= start, IM.posted_at < end, IM.status == "rejected")
        .group_by(window, IM.reject_reason)
    )
    return read_rows(db, statement)
