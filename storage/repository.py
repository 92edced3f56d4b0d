"""Writes the pipeline needs (idempotent, one transaction per batch) and the small reads it uses."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from functools import lru_cache
from itertools import combinations
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import bindparam, case, func, select, text, update
from sqlalchemy.orm import Session

from storage.engine import Database
from storage.errors import StorageError
from storage.records import BatchResult, DetectionRecord, FetchFailureRecord, ImageRecord
from storage.rollups import add_detections, add_images
from storage.rollups import dialect_insert as _insert
from storage.schema import Detection, FetchFailure, Image, ModelVersion, Source, Thumbnail, utcnow

PHASH_BITS = 64
BAND_BITS = 16
BANDS = PHASH_BITS // BAND_BITS
_MAX_NEIGHBOURS = 1000  # probes per band beyond which comparing with every stored hash is cheaper
_CHUNK = 500  # values per IN list, well under every driver's bound-parameter limit
_ERROR_CHARS = 2000


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def ensure_source(db: Database, name: str, kind: str) -> int:
    """The id of the source row with this name, created when new (its kind kept current)."""
    with db.session(write=True) as session:
        session.execute(_insert(session, Source).values(name=name, kind=kind, consecutive_failures=0,
                                                         created_at=utcnow())
                        .on_conflict_do_nothing(index_elements=["name"]))
        session.execute(update(Source).where(Source.name == name, Source.kind != kind).values(kind=kind))
        return session.scalar(select(Source.id).where(Source.name == name))


def get_cursor(db: Database, source_id: int) -> Optional[dict[str, Any]]:
    """The source's committed cursor, or None before its first batch."""
    with db.session() as session:
        return session.scalar(select(Source.cursor).where(Source.id == source_id))


def known_sha256(db: Database, hashes: Iterable[str]) -> set[str]:
    """Which of these sha256 digests are already stored."""
    wanted = sorted(set(hashes))
    found: set[str] = set()
    with db.session() as session:
        for chunk in _chunks(wanted):
            found.update(session.scalars(select(Image.sha256).where(Image.sha256.in_(chunk))))
    return found


def phash_bands(phash: Optional[str]) -> tuple[Optional[int], ...]:
    """The 64-bit hash as four 16-bit integers (None for no hash)."""
    if phash is None:
        return (None,) * BANDS
    return _split(_phash_int(phash))


def _phash_int(phash: str) -> int:
    try:
        if len(phash) != PHASH_BITS // 4:
            raise ValueError(phash)
        return int(phash, 16)
    except ValueError:
        raise StorageError(f"perceptual hash {phash!r} is not {PHASH_BITS // 4} hex digits "
                           f"(imagehash.phash with hash_size=8)") from None


@lru_cache(maxsize=16)
def _flip_masks(radius: int) -> tuple[int, ...]:
    """XOR masks that flip up to `radius` bits of a band (0 first)."""
    masks = [0]
    for flips in range(1, radius + 1):
        masks.extend(sum(1 << bit for bit in bits) for bits in combinations(range(BAND_BITS), flips))
    return tuple(masks)


def _split(value: int) -> tuple[int, ...]:
    mask = (1 << BAND_BITS) - 1
    return tuple((value >> (BAND_BITS * (BANDS - 1 - i))) & mask for i in range(BANDS))


class _NearIndex:
    """Hashes filed by band value: the earliest entry within `distance` of a hash, without comparing all."""

    def __init__(self, distance: int):
        self.distance = distance
        self.masks = _flip_masks(distance // BANDS) if _use_bands(distance) else ()
        self.scan = not self.masks
        self.entries: list[tuple[Any, int, Any]] = []
        self.bands: list[dict[int, list[tuple[Any, int, Any]]]] = [defaultdict(list) for _ in range(BANDS)]

    def add(self, order: Any, value: int, target: Any) -> None:
        entry = (order, value, target)
        self.entries.append(entry)
        if not self.scan:
            for band, part in enumerate(_split(value)):
                self.bands[band][part].append(entry)

    def first(self, value: int) -> Any:
        """The target of the earliest entry within `distance` of `value`, or None."""
        if self.scan:
            pool: Iterable[tuple[Any, int, Any]] = self.entries
        else:
            pool = (entry for band, part in enumerate(_split(value)) for mask in self.masks
                    for entry in self.bands[band].get(part ^ mask, ()))
        near = [entry for entry in pool if (entry[1] ^ value).bit_count() <= self.distance]
        return min(near, key=lambda entry: entry[0])[2] if near else None


def _use_bands(distance: int) -> bool:
    """Whether band lookups beat a full scan at this distance (few enough flip masks)."""
    return len(_flip_masks(distance // BANDS)) <= _MAX_NEIGHBOURS


def _xor(a: str, b: str) -> str:
    return f"(({a} | {b}) - ({a} & {b}))"  # a ^ b for non-negative ints; SQLite has no XOR operator


def _popcount16(x: str) -> str:
    """SQL for the number of set bits of a 16-bit integer expression (SWAR, portable)."""
    x1 = f"({x} - (({x} >> 1) & 21845))"
    x2 = f"(({x1} & 13107) + (({x1} >> 2) & 13107))"
    x3 = f"(({x2} + ({x2} >> 4)) & 3855)"
    return f"(({x3} + ({x3} >> 8)) & 31)"


_XOR_SQL = ", ".join(f"{_xor(f'i.phash_b{k}', f'q.h{k}')} AS x{k}" for k in range(BANDS))
_DISTANCE_SQL = " + ".join(_popcount16(f"c.x{k}") for k in range(BANDS))
_PROBE_COLUMNS = ("pos", "band", "v", "h0", "h1", "h2", "h3")
_PROBE_ROWS = 20_000  # probe rows per statement
# The probes travel as one parameter (a JSON text on SQLite, arrays on PostgreSQL), so the
# statement text stays the same and is prepared once; q is the outer loop of the join.
_PROBES_FROM = {
    "sqlite": "SELECT " + ", ".join(f"json_extract(value, '$[{n}]') AS {c}" for n, c in enumerate(_PROBE_COLUMNS))
              + " FROM json_each(:probes)",
    "postgresql": "SELECT * FROM unnest(" + ", ".join(f"CAST(:{c} AS integer[])" for c in _PROBE_COLUMNS)
                  + ") AS p(" + ", ".join(_PROBE_COLUMNS) + ")",
}


@lru_cache(maxsize=8)
def _near_sql(dialect: str, by_band: bool) -> Any:
    """The statement returning (probe position, image id) for stored photos within :distance."""
    head = f"WITH q AS MATERIALIZED ({_PROBES_FROM[dialect]}) "
    if by_band:
        pairs = " UNION ALL ".join(f"SELECT q.pos, i.id, {_XOR_SQL} FROM q CROSS JOIN images i "
                                   f"WHERE q.band = {band} AND i.phash_b{band} = q.v" for band in range(BANDS))
    else:  # so far apart that probing would read everything anyway
        pairs = f"SELECT q.pos, i.id, {_XOR_SQL} FROM q CROSS JOIN images i WHERE i.phash_b0 IS NOT NULL"
    return text(f"{head}SELECT DISTINCT c.pos, c.id FROM ({pairs}) AS c WHERE {_DISTANCE_SQL} <= :distance")


def _probe_params(dialect: str, rows: list[tuple[int, ...]]) -> dict[str, Any]:
    if dialect == "sqlite":
        return {"probes": json.dumps(rows)}
    return {column: [row[n] for row in rows] for n, column in enumerate(_PROBE_COLUMNS)}


def _stored_originals(session: Session, records: Sequence[ImageRecord], distance: int) -> dict[str, int]:
    """For accepted records near a stored accepted photo: sha256 -> id of the earliest one's original.

    Multi-index hashing: two hashes within `distance` differ in at most distance // 4 bits of
    some 16-bit band, so each record probes its bands' near values through the band indexes, and
    the exact Hamming distance is computed in SQL from the same index entries; only matches
    come back.
    """
    probes = [(pos, _split(_phash_int(r.phash))) for pos, r in enumerate(records)
              if r.phash and r.status == "accepted"]
    if not probes:
        return {}
    dialect = session.get_bind().dialect.name
    by_band = _use_bands(distance)
    masks = _flip_masks(distance // BANDS) if by_band else (0,)
    rows = [(pos, band, part ^ mask, *h) for pos, h in probes
            for band, part in (enumerate(h) if by_band else [(0, 0)]) for mask in masks]
    earliest: dict[int, int] = {}
    statement = _near_sql(dialect, by_band)
    for start in range(0, len(rows), _PROBE_ROWS):
        params = {**_probe_params(dialect, rows[start:start + _PROBE_ROWS]), "distance": distance}
        for pos, image_id in session.execute(statement, params):
            if pos not in earliest or image_id < earliest[pos]:
                earliest[pos] = image_id
    originals: dict[int, Optional[int]] = {}
    for chunk_ids in _chunks(sorted(set(earliest.values()))):
        originals.update(session.execute(select(Image.id, Image.repost_of_id).where(Image.id.in_(chunk_ids))).all())
    return {records[pos].sha256: originals[image_id] or image_id for pos, image_id in earliest.items()}


def _image_row(record: ImageRecord, source_id: int, now: datetime) -> dict[str, Any]:
    bands = phash_bands(record.phash if record.status == "accepted" else None)
    posted_at = record.posted_at or now
    return {
        "source_id": source_id, "sha256": record.sha256, "phash": record.phash, "uri": record.uri,
        "external_id": record.external_id, "posted_at": posted_at,
        "time_source": record.time_source if record.posted_at else "ingested",
        "ingested_at": now, "latitude": record.latitude, "longitude": record.longitude,
        "place": record.place or None, "caption": record.caption, "author": record.author,
        "reach": record.reach, "width": record.width, "height": record.height,
        "status": record.status, "reject_reason": record.reject_reason or None,
        "reject_detail": record.reject_detail, "repost_of_id": None,
        "phash_b0": bands[0], "phash_b1": bands[1], "phash_b2": bands[2], "phash_b3": bands[3],
    }


def save_batch(db: Database, source_id: int, model_version_id: Optional[int],
               images: Iterable[ImageRecord], failures: Iterable[FetchFailureRecord] = (),
               cursor: Optional[dict[str, Any]] = None, phash_distance: int = 6,
               fetched: Iterable[str] = ()) -> BatchResult:
    """Store a batch in one transaction: images once per sha256, near-copies as reposts,
    detections once per (image, brand, model), thumbnails, fetch failures, and the source's
    cursor (left as it is when `cursor` is None). Earlier fetch failures of the images' uris and of
    `fetched` (uris read this time whose bytes were stored already) are cleared. Nothing is stored
    if any part fails."""
    with db.session(write=True) as session:
        return save_batch_in(session, source_id, model_version_id, images, failures, cursor, phash_distance,
                             fetched)


def save_batch_in(session: Session, source_id: int, model_version_id: Optional[int],
                  images: Iterable[ImageRecord], failures: Iterable[FetchFailureRecord] = (),
                  cursor: Optional[dict[str, Any]] = None, phash_distance: int = 6,
                  fetched: Iterable[str] = ()) -> BatchResult:
    """`save_batch` inside a transaction the caller owns."""
    now = utcnow()
    result = BatchResult()
    records: list[ImageRecord] = []
    seen: set[str] = set()
    uris = set(fetched)  # whose earlier fetch failures are resolved now
    for record in images:
        uris.add(record.uri)
        if record.sha256 in seen:
            result.duplicates += 1
            continue
        seen.add(record.sha256)
        records.append(record)

    rows = {r.sha256: _image_row(r, source_id, now) for r in records}
    in_batch_original = _assign_reposts(session, records, rows, phash_distance)

    table = Image.__table__
    inserted: set[str] = set()
    # Sorted by key so two processes saving overlapping batches lock rows in the same order.
    ordered = [rows[sha] for sha in sorted(rows)]
    if ordered:
        statement = _insert(session, table).on_conflict_do_nothing(index_elements=["sha256"])
        inserted = set(session.execute(statement.returning(table.c.sha256), ordered).scalars())
    stored = _stored_images(session, sorted(rows))

    reposts_later = [{"b_id": stored[sha]["id"], "b_orig": stored[orig]["id"]}
                     for sha, orig in in_batch_original.items() if sha in inserted]
    if reposts_later:
        session.execute(update(table).where(table.c.id == bindparam("b_id"))
                        .values(repost_of_id=bindparam("b_orig")), reposts_later)
    for sha, orig in in_batch_original.items():
        if sha in inserted:
            rows[sha]["repost_of_id"] = stored[sha]["repost_of_id"] = stored[orig]["id"]
    add_images(session, [rows[sha] for sha in sorted(inserted)])

    for record in records:
        if record.sha256 not in inserted:
            result.duplicates += 1
            continue
        result.new += 1
        if record.status != "accepted":
            reason = record.reject_reason or "unknown"
            result.rejected[reason] = result.rejected.get(reason, 0) + 1
        elif rows[record.sha256]["repost_of_id"] is not None:
            result.reposts += 1

    result.detections = _save_detections(session, records, stored, model_version_id)
    _save_thumbnails(session, records, stored)
    result.failures = _save_failures(session, source_id, failures, now)
    for chunk in _chunks(sorted(uris)):
        session.execute(FetchFailure.__table__.delete().where(
            FetchFailure.source_id == source_id, FetchFailure.uri.in_(chunk)))
    if cursor is not None:
        try:
            json.dumps(cursor)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"source cursor {cursor!r} cannot be stored as JSON: {exc}") from None
        session.execute(update(Source).where(Source.id == source_id).values(cursor=cursor))
    return result


def _assign_reposts(session: Session, records: Sequence[ImageRecord], rows: dict[str, dict[str, Any]],
                    distance: int) -> dict[str, str]:
    """Set repost_of_id on rows near a stored image; return {sha: sha of the in-batch original}."""
    stored = _stored_originals(session, records, distance)
    index = _NearIndex(distance)  # this batch's accepted photos, for copies within the batch
    in_batch: dict[str, str] = {}
    for position, record in enumerate(records):
        if not record.phash or record.status != "accepted":
            continue
        value = _phash_int(record.phash)
        original = ("stored", stored[record.sha256]) if record.sha256 in stored else index.first(value)
        if original is None:
            original = ("batch", record.sha256)
        elif original[0] == "stored":
            rows[record.sha256]["repost_of_id"] = original[1]
        else:
            in_batch[record.sha256] = original[1]
        index.add((1, position), value, original)
    return in_batch


# What detections copy from their photo, and what the rollups count them by.
_IMAGE_FACTS = (Image.id, Image.posted_at, Image.source_id, Image.status, Image.place, Image.reach,
                Image.repost_of_id)


def _stored_images(session: Session, hashes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """id, posted_at, source_id, status, place, reach and repost_of_id of stored images by sha256."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(hashes):
        for row in session.execute(select(Image.sha256, *_IMAGE_FACTS).where(Image.sha256.in_(chunk))):
            found[row.sha256] = row._asdict()
    return found


def _save_detections(session: Session, records: Sequence[ImageRecord], stored: dict[str, dict[str, Any]],
                     model_version_id: Optional[int]) -> dict[str, int]:
    found = [(stored[r.sha256], detection) for r in records if stored[r.sha256]["status"] == "accepted"
             for detection in r.detections]
    return _insert_detections(session, model_version_id, found)


def save_detections_in(session: Session, model_version_id: int,
                       found: dict[int, list[DetectionRecord]]) -> dict[str, int]:
    """Store a model version's detections of stored accepted photos (image id -> detections) once per
    (image, brand, model), with the photo's time and source; ids of missing or rejected photos are
    skipped. Returns the detections inserted, by brand."""
    images: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(found)):
        query = select(*_IMAGE_FACTS).where(Image.id.in_(chunk))
        images.update((row.id, row._asdict()) for row in session.execute(query))
    pairs = [(images[image_id], detection) for image_id in sorted(found)
             if image_id in images and images[image_id]["status"] == "accepted" for detection in found[image_id]]
    return _insert_detections(session, model_version_id, pairs)


def _insert_detections(session: Session, model_version_id: Optional[int],
                       found: Sequence[tuple[dict[str, Any], DetectionRecord]]) -> dict[str, int]:
    """Insert (stored photo, detection) pairs not stored yet; count the new ones into the rollup, by brand."""
    if not found:
        return {}
    if model_version_id is None:
        raise StorageError("detections need a model version: register the model bundle first")
    rows = []
    for image, detection in found:
        box = detection.box or (None, None, None, None)
        rows.append({
            "image_id": image["id"], "brand": detection.brand,
            "confidence": float(detection.confidence), "model_version_id": model_version_id,
            "posted_at": image["posted_at"], "source_id": image["source_id"],
            "box_x1": box[0], "box_y1": box[1], "box_x2": box[2], "box_y2": box[3],
            "created_at": utcnow(),
        })
    rows.sort(key=lambda row: (row["image_id"], row["brand"]))
    table = Detection.__table__
    statement = _insert(session, table).on_conflict_do_nothing(
        index_elements=["image_id", "brand", "model_version_id"]).returning(table.c.image_id, table.c.brand)
    inserted = session.execute(statement, rows).all()
    images = {image["id"]: image for image, _ in found}
    add_detections(session, model_version_id, [(images[image_id], brand) for image_id, brand in inserted])
    return dict(sorted(Counter(brand for _, brand in inserted).items()))


def _save_thumbnails(session: Session, records: Sequence[ImageRecord], stored: dict[str, dict[str, Any]]) -> None:
    rows = [{"image_id": stored[r.sha256]["id"], "jpeg": r.thumbnail_jpeg,
             "width": r.thumbnail_width or 0, "height": r.thumbnail_height or 0}
            for r in records if r.thumbnail_jpeg]
    if rows:
        rows.sort(key=lambda row: row["image_id"])
        session.execute(_insert(session, Thumbnail.__table__).on_conflict_do_nothing(
            index_elements=["image_id"]), rows)


def _save_failures(session: Session, source_id: int, failures: Iterable[FetchFailureRecord], now: datetime) -> int:
    count = 0
    table = FetchFailure.__table__
    for failure in failures:
        statement = _insert(session, table).values(
            source_id=source_id, uri=failure.uri, reason=failure.reason, detail=failure.detail,
            attempts=1, first_at=now, last_at=now, ref=failure.ref)
        statement = statement.on_conflict_do_update(
            index_elements=["source_id", "uri"],
            set_={"attempts": table.c.attempts + 1, "reason": statement.excluded.reason,
                  "detail": statement.excluded.detail, "last_at": statement.excluded.last_at,
                  "ref": func.coalesce(statement.excluded.ref, table.c.ref)})
        session.execute(statement)
        count += 1
    return count


def due_refetches(db: Database, source_id: int, reasons: Iterable[str], attempts: int, after: float,
                  now: Optional[datetime] = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Stored refs of this source's fetch failures worth another try: a reason in `reasons`, fewer than
    `attempts` tries so far, and `after` seconds (doubled per earlier retry) since the last one; oldest first."""
    now = now or utcnow()
    reasons = sorted(set(reasons))
    if attempts <= 1 or not reasons:
        return []
    with db.session() as session:
        rows = session.execute(
            select(FetchFailure.ref, FetchFailure.attempts, FetchFailure.last_at)
            .where(FetchFailure.source_id == source_id, FetchFailure.ref.is_not(None),
                   FetchFailure.reason.in_(reasons), FetchFailure.attempts < attempts)
            .order_by(FetchFailure.last_at, FetchFailure.id).limit(limit)).all()
    return [ref for ref, tried, last_at in rows
            if (now - last_at).total_seconds() >= after * 2 ** max(tried - 1, 0)]


def record_poll(db: Database, source_id: int, ok: bool, error: Optional[str] = None,
                next_try_at: Optional[datetime] = None) -> None:
    """Note a poll: success resets the failure count; failure stores the error and counts it."""
    now = utcnow()
    values: dict[str, Any] = {"last_polled_at": now, "next_try_at": next_try_at}
    if ok:
        values.update(last_success_at=now, consecutive_failures=0)
    else:
        values.update(last_error=(error or "unknown error")[:_ERROR_CHARS], last_error_at=now,
                      consecutive_failures=Source.consecutive_failures + 1)
    with db.session(write=True) as session:
        found = session.execute(update(Source).where(Source.id == source_id).values(**values)).rowcount
    if not found:
        raise StorageError(f"no source with id {source_id}")


def register_model_version(db: Database, checksum: str, bundle_path: str, backbone: str, input_size: int,
                           classes: Sequence[str], thresholds: dict[str, float],
                           metrics: Optional[dict[str, Any]] = None) -> int:
    """The id of the model version with this checksum, stored on first sight (safe under races)."""
    with db.session(write=True) as session:
        session.execute(_insert(session, ModelVersion).values(
            checksum=checksum, bundle_path=str(bundle_path), backbone=backbone, input_size=int(input_size),
            classes=list(classes), thresholds={k: float(v) for k, v in thresholds.items()},
            metrics=metrics or {}, created_at=utcnow()).on_conflict_do_nothing(index_elements=["checksum"]))
        return session.scalar(select(ModelVersion.id).where(ModelVersion.checksum == checksum))


def source_status(db: Database) -> list[dict[str, Any]]:
    """Each source's poll status with its image and detection counts, by name."""
    accepted = Image.status == "accepted"
    images = (select(
        Image.source_id.label("source_id"),
        func.sum(case((accepted, 1), else_=0)).label("accepted"),
        func.sum(case((accepted, 0), else_=1)).label("rejected"),
        func.sum(case((accepted & Image.repost_of_id.is_not(None), 1), else_=0)).label("reposts"),
    ).group_by(Image.source_id).subquery())
    detections = (select(Detection.source_id.label("source_id"), func.count().label("n"))
                  .group_by(Detection.source_id).subquery())
    failures = (select(FetchFailure.source_id.label("source_id"), func.count().label("n"))
                .group_by(FetchFailure.source_id).subquery())
    query = (select(
        Source.id, Source.name, Source.kind, Source.last_polled_at, Source.last_success_at,
        Source.last_error, Source.last_error_at, Source.consecutive_failures, Source.next_try_at,
        func.coalesce(images.c.accepted, 0).label("images_accepted"),
        func.coalesce(images.c.rejected, 0).label("images_rejected"),
        func.coalesce(images.c.reposts, 0).label("reposts"),
        func.coalesce(detections.c.n, 0).label("detections"),
        func.coalesce(failures.c.n, 0).label("fetch_failures"),
    ).outerjoin(images, images.c.source_id == Source.id)
        .outerjoin(detections, detections.c.source_id == Source.id)
        .outerjoin(failures, failures.c.source_id == Source.id)
        .order_by(Source.name))
    with db.session() as session:
        return [{**row._asdict(), **{k: int(row._mapping[k]) for k in
                 ("images_accepted", "images_rejected", "reposts", "detections", "fetch_failures")}}
                for row in session.execute(query)]
