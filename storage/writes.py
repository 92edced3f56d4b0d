"""Batch writes: photos once per sha256 (near copies as reposts), detections, thumbnails, fetch failures, cursor.

One transaction per batch; a photo that cannot be stored costs only that photo: it is recorded as
a fetch failure (reason `unstorable`) and the rest of the batch is stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from storage.cleaning import clean_failure_text, clean_image_row, clean_moment, clean_text
from storage.detections import insert_detections, stored_images
from storage.engine import Database, describe_error
from storage.errors import StorageError
from storage.records import BatchResult, FetchFailureRecord, ImageRecord
from storage.redaction import redact_text
from storage.reposts import assign_reposts, phash_bands
from storage.rollups import add_images
from storage.schema import FetchFailure, Image, Source, Thumbnail, utcnow
from storage.statements import chunks, dialect_insert

UNSTORABLE = "unstorable"  # the fetch-failure reason of a photo the database refused
# What a row the database refuses raises: driver errors (wrapped by SQLAlchemy) and bind-time conversions.
_ROW_ERRORS = (SQLAlchemyError, ValueError, OverflowError, TypeError)


def known_sha256(db: Database, hashes: Iterable[str]) -> set[str]:
    """Which of these sha256 digests are already stored."""
    wanted = sorted(set(hashes))
    found: set[str] = set()
    with db.session() as session:
        for chunk in chunks(wanted):
            found.update(session.scalars(select(Image.sha256).where(Image.sha256.in_(chunk))))
    return found


def text_sha256(text: str | None) -> str | None:
    """The hex sha256 of a text (what long uris and external ids are indexed and kept unique by)."""
    return None if text is None else hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _image_row(record: ImageRecord, source_id: int, now: datetime) -> dict[str, Any]:
    """The images row of a record, cleaned; StorageError when it cannot be built (a malformed hash)."""
    bands = phash_bands(record.phash if record.status == "accepted" else None)
    posted_at = clean_moment(record.posted_at)
    row = clean_image_row(
        {
            "source_id": source_id,
            "sha256": record.sha256,
            "phash": record.phash,
            "uri": record.uri,
            "external_id": record.external_id,
            "posted_at": posted_at or now,
            "time_source": record.time_source if posted_at else "ingested",
            "ingested_at": now,
            "latitude": record.latitude,
            "longitude": record.longitude,
            "place": record.place or None,
            "caption": record.caption,
            "author": record.author,
            "reach": record.reach,
            "width": record.width,
            "height": record.height,
            "status": record.status,
            "reject_reason": record.reject_reason or None,
            "reject_detail": record.reject_detail,
            "repost_of_id": None,
            "phash_b0": bands[0],
            "phash_b1": bands[1],
            "phash_b2": bands[2],
            "phash_b3": bands[3],
        }
    )
    row["place"] = row["place"] or None
    row["external_id_sha256"] = text_sha256(row["external_id"])
    return row


def save_batch(
    db: Database,
    source_id: int,
    model_version_id: int | None,
    images: Iterable[ImageRecord],
    failures: Iterable[FetchFailureRecord] = (),
    cursor: dict[str, Any] | None = None,
    phash_distance: int = 6,
    fetched: Iterable[str] = (),
) -> BatchResult:
    """Store a batch in one transaction: images once per sha256, near-copies as reposts,
    detections once per (image, brand, model), thumbnails, fetch failures, and the source's
    cursor (left as it is when `cursor` is None). Earlier fetch failures of the images' uris and of
    `fetched` (uris read this time whose bytes were stored already) are cleared. Nothing is stored
    if any part fails."""
    with db.session(write=True) as session:
        return save_batch_in(session, source_id, model_version_id, images, failures, cursor, phash_distance, fetched)


def save_batch_in(
    session: Session,
    source_id: int,
    model_version_id: int | None,
    images: Iterable[ImageRecord],
    failures: Iterable[FetchFailureRecord] = (),
    cursor: dict[str, Any] | None = None,
    phash_distance: int = 6,
    fetched: Iterable[str] = (),
) -> BatchResult:
    """`save_batch` inside a transaction the caller owns."""
    now = utcnow()
    result = BatchResult()
    records: list[ImageRecord] = []
    rows: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}  # sha256 -> why the row could not be stored
    seen: set[str] = set()
    uris = set(fetched)  # whose earlier fetch failures are resolved now
    for record in images:
        if record.sha256 in seen:
            result.duplicates += 1
            uris.add(record.uri)
            continue
        seen.add(record.sha256)
        try:
            rows[record.sha256] = _image_row(record, source_id, now)
        except StorageError as exc:
            refused[record.sha256] = str(exc)
        records.append(record)

    buildable = [r for r in records if r.sha256 in rows]
    in_batch_original = assign_reposts(session, buildable, rows, phash_distance)
    # Sorted by key so two processes saving overlapping batches lock rows in the same order.
    inserted, failed = _insert_images(session, [rows[sha] for sha in sorted(rows)])
    refused.update(failed)
    unstorable = [_unstorable(r, refused[r.sha256]) for r in records if r.sha256 in refused]
    records = [r for r in records if r.sha256 not in refused]
    uris.update(r.uri for r in records)
    stored = stored_images(session, sorted(sha for sha in rows if sha not in refused))

    table = Image.__table__
    reposts_later = [
        {"b_id": stored[sha]["id"], "b_orig": stored[orig]["id"]}
        for sha, orig in in_batch_original.items()
        if sha in inserted and orig in stored
    ]
    if reposts_later:
        session.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(repost_of_id=bindparam("b_orig")), reposts_later
        )
    for sha, orig in in_batch_original.items():
        if sha in inserted and orig in stored:
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
    result.unstored = [{"uri": f.uri, "reason": f.detail} for f in unstorable]
    result.failures = _save_failures(session, source_id, [*failures, *unstorable], now)
    uris.difference_update(f.uri for f in unstorable)
    # Failures are stored under their cleaned uri (storage.cleaning), so they are found by it.
    for chunk in chunks(sorted(filter(None, (text_sha256(clean_text(uri)) for uri in uris)))):
        session.execute(
            FetchFailure.__table__.delete().where(
                FetchFailure.source_id == source_id, FetchFailure.uri_sha256.in_(chunk)
            )
        )
    if cursor is not None:
        try:
            json.dumps(cursor)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"source cursor {cursor!r} cannot be stored as JSON: {exc}") from None
        session.execute(update(Source).where(Source.id == source_id).values(cursor=cursor))
    return result


def _insert_images(session: Session, rows: Sequence[dict[str, Any]]) -> tuple[set[str], dict[str, str]]:
    """Insert rows not stored yet, a savepoint per chunk; a chunk that fails is retried row by row.

    Returns the sha256 of the rows inserted, and {sha256: reason} for rows the database refused."""
    statement = dialect_insert(session, Image.__table__).on_conflict_do_nothing(index_elements=["sha256"])
    statement = statement.returning(Image.__table__.c.sha256)
    inserted: set[str] = set()
    refused: dict[str, str] = {}
    for chunk in chunks(rows):
        try:
            with session.begin_nested():
                inserted.update(session.execute(statement, list(chunk)).scalars())
            continue
        except _ROW_ERRORS:
            pass
        for row in chunk:
            try:
                with session.begin_nested():
                    inserted.update(session.execute(statement, [row]).scalars())
            except _ROW_ERRORS as exc:
                refused[row["sha256"]] = describe_error(exc)
    return inserted, refused


def _unstorable(record: ImageRecord, reason: str) -> FetchFailureRecord:
    """The failure row of a photo the database refused: its item (external id) and why."""
    item = f"item {record.external_id!r}: " if record.external_id else ""
    return FetchFailureRecord(uri=record.uri, reason=UNSTORABLE, detail=f"{item}{reason}"[:2000])


def _save_detections(
    session: Session, records: Sequence[ImageRecord], stored: dict[str, dict[str, Any]], model_version_id: int | None
) -> dict[str, int]:
    found = [
        (stored[r.sha256], detection)
        for r in records
        if stored[r.sha256]["status"] == "accepted"
        for detection in r.detections
    ]
    return insert_detections(session, model_version_id, found)


def _save_thumbnails(session: Session, records: Sequence[ImageRecord], stored: dict[str, dict[str, Any]]) -> None:
    rows = [
        {
            "image_id": stored[r.sha256]["id"],
            "jpeg": r.thumbnail_jpeg,
            "width": r.thumbnail_width or 0,
            "height": r.thumbnail_height or 0,
        }
        for r in records
        if r.thumbnail_jpeg
    ]
    if rows:
        rows.sort(key=lambda row: row["image_id"])
        session.execute(
            dialect_insert(session, Thumbnail.__table__).on_conflict_do_nothing(index_elements=["image_id"]), rows
        )


def _save_failures(session: Session, source_id: int, failures: Iterable[FetchFailureRecord], now: datetime) -> int:
    count = 0
    table = FetchFailure.__table__
    for failure in failures:
        uri, reason, detail = clean_failure_text(failure.uri, failure.reason, redact_text(failure.detail))
        statement = dialect_insert(session, table).values(
            source_id=source_id,
            uri=uri,
            uri_sha256=text_sha256(uri),
            reason=reason,
            detail=detail,
            attempts=1,
            first_at=now,
            last_at=now,
            ref=failure.ref,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["source_id", "uri_sha256"],
            set_={
                "attempts": table.c.attempts + 1,
                "reason": statement.excluded.reason,
                "detail": statement.excluded.detail,
                "last_at": statement.excluded.last_at,
                "ref": func.coalesce(statement.excluded.ref, table.c.ref),
            },
        )
        session.execute(statement)
        count += 1
    return count
