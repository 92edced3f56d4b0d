"""The steps of a batch, shared by the local loop and the Celery tasks: read -> drop known bytes -> check ->
classify -> build records -> store (one transaction).

A photo that kills its process (an out-of-memory kill, a crash in a decoder) must not come back forever: the
same batch is listed again after a restart (a folder re-lists unstored files, a feed's cursor did not move, a
Celery message is redelivered). `check_guarded` counts attempts per photo (storage.attempts, keyed by sha256):

- one read and one committed write per batch, before its decode: every photo without a count is marked in
  flight (1);
- the row is deleted in the transaction that stores the photo (or when the work raises: an exception is not a
  kill), so only a crash leaves counts behind;
- a photo met again with a count is a suspect: it is decoded and classified alone, with nothing else of this
  process in flight, its count raised by one (committed) before and deleted after (it did not kill anything);
  so an innocent bystander of a crash is cleared on its first lone run and only the culprit keeps counting;
- a photo whose count reached `ingest.max_photo_attempts` is not decoded again: it is stored as rejected
  (`killed_worker`, with the count) like any hostile photo, which also makes its bytes known to every later
  batch, and the rest of the batch goes on;
- `monitor reclassify` goes through the same check for photos stored already (monitor.reclassify): there a photo
  at the limit is skipped and keeps its count, so later reruns skip it too;
- a count whose photo never comes back (its item deleted, stored through another source) is pruned by
  `monitor run` once it is `ATTEMPTS_KEPT_S` old (a pruned photo gets `max_photo_attempts` tries again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.config import IngestSettings
from monitor.errors import FetchError, FetchReason, ImageRejected
from monitor.images import CheckedImage, check_image, sha256_hex, thumbnail_jpeg
from monitor.model import LoadedModel
from monitor.refs import encode_ref
from monitor.sources.base import ImageRef, Source
from storage.attempts import add_attempts, attempts_of, forget_attempts, forget_attempts_in
from storage.batches import claim_for_done_in, mark_done_in
from storage.engine import Database
from storage.errors import StorageError
from storage.records import BatchResult, DetectionRecord, FetchFailureRecord, ImageRecord
from storage.writes import known_sha256, save_batch_in

log = logging.getLogger("monitor.ingest")
ATTEMPTS_KEPT_S = 30 * 86_400.0  # far longer than any redelivery or restart loop; short enough not to pile up


@dataclass
class Item:
    """One ref on its way through a batch: bytes, then a check result, then detections."""

    ref: ImageRef
    sha256: str | None = None
    data: bytes | None = None
    failure: FetchError | None = None
    rejected: ImageRejected | None = None
    checked: CheckedImage | None = None
    known: bool = False
    found: list[DetectionRecord] | None = None  # classified already (a suspect, alone; see check_guarded)


@dataclass
class BatchCounts:
    """What storing one batch did: the storage result, the fetch failures, photos whose bytes were known."""

    result: BatchResult
    failures: list[FetchFailureRecord] = field(default_factory=list)
    known: int = 0

    def as_json(self) -> dict[str, Any]:
        """The counts an outbox row keeps (`monitor status`, reclassify progress)."""
        result = self.result
        return {
            "new": result.new,
            "duplicates": result.duplicates + self.known,
            "reposts": result.reposts,
            "rejected": result.rejected,
            "detections": result.detections,
            "failures": result.failures,
        }


def read_item(source: Source, ref: ImageRef) -> Item:
    """The ref's bytes and sha256 (refs with data need no reading), or the fetch failure."""
    item = Item(ref)
    try:
        data = ref.data if ref.data is not None else source.read(ref)
    except FetchError as exc:
        item.failure = exc
        return item
    except Exception as exc:  # a broken source must not take the batch down
        item.failure = FetchError(f"{ref.uri}: {type(exc).__name__}: {exc}", FetchReason.ERROR)
        return item
    item.data, item.sha256 = data, sha256_hex(data)
    return item


def read_items(source: Source, refs: list[ImageRef], pool: ThreadPoolExecutor | None = None) -> list[Item]:
    """Read every ref of a batch (in the pool's threads when given)."""
    reader = pool.map if pool is not None else map
    return list(reader(lambda ref: read_item(source, ref), refs))


def drop_known(db: Database, items: list[Item]) -> None:
    """Mark items whose bytes are stored already, or repeated in the batch, as known; drop their bytes."""
    known = known_sha256(db, [i.sha256 for i in items if i.sha256])
    seen: set[str] = set()
    for item in items:
        if item.sha256 and (item.sha256 in known or item.sha256 in seen):
            item.known, item.data = True, None
        elif item.sha256:
            seen.add(item.sha256)


def check_item(item: Item, ingest: IngestSettings, model: LoadedModel) -> None:
    """Decode and validate the item's bytes at the model's working size (sets checked or rejected)."""
    try:
        item.checked = check_image(
            item.data,
            ingest.max_pixels,
            ingest.min_side,
            model.work_side,
            sha256=item.sha256,
            square=not model.tiled,
            thumbnail_size=ingest.thumbnail_size,
            formats=ingest.image_formats,
            max_decode_mb=ingest.max_decode_mb,
        )
    except ImageRejected as exc:
        item.rejected = exc
    except Exception as exc:  # Pillow raises many kinds on hostile files
        item.rejected = ImageRejected("not_an_image", f"{type(exc).__name__}: {exc}")
    item.data = None


def check_items(
    items: list[Item], ingest: IngestSettings, model: LoadedModel, pool: ThreadPoolExecutor | None = None
) -> None:
    """Check every item that still has bytes."""
    pending = [i for i in items if i.data is not None]
    list((pool.map if pool is not None else map)(lambda item: check_item(item, ingest, model), pending))


def check_guarded(
    db: Database,
    items: list[Item],
    ingest: IngestSettings,
    model: LoadedModel,
    pool: ThreadPoolExecutor | None = None,
    quiet: Callable[[], None] | None = None,
) -> None:
    """`check_items` with attempts counted per photo (see the module's docstring): photos that killed their
    process `max_photo_attempts` times are rejected undecoded, suspects are decoded and classified alone (after
    `quiet()`, which waits until nothing else of this process is in flight), the rest together."""
    pending = [i for i in items if i.data is not None and i.sha256]
    earlier = attempts_of(db, [i.sha256 for i in pending])
    limit = ingest.max_photo_attempts
    suspects = []
    for item in pending:
        tries = earlier.get(item.sha256, 0)
        if tries >= limit:
            log.warning("photo %s killed the worker %d times; skipped", item.ref.uri, tries)
            detail = f"killed the worker {tries} times while being decoded/classified; skipped"
            item.rejected, item.data = ImageRejected("killed_worker", detail), None
        elif tries:
            suspects.append(item)
    if suspects and quiet is not None:
        quiet()
    for item in suspects:
        log.info("photo %s was in flight when a worker died; checking it alone", item.ref.uri)
        add_attempts(db, [item.sha256])
        try:
            check_item(item, ingest, model)
            item.found = classify_items(model, [item])[0] if item.checked is not None else None
        finally:  # whatever it raised, it did not kill the process
            forget_attempts(db, [item.sha256])
    # Marked after the suspects ran: a suspect's crash must not make suspects of the others.
    add_attempts(db, [i.sha256 for i in pending if i.data is not None and not earlier.get(i.sha256)])
    check_items(items, ingest, model, pool)


def classify_checked(model: LoadedModel, items: list[Item]) -> list[list[DetectionRecord]]:
    """`classify_items`, keeping the detections of suspects that check_guarded classified alone already."""
    accepted = [i for i in items if i.checked is not None]
    fresh = iter(classify_items(model, [i for i in accepted if i.found is None]))
    return [i.found if i.found is not None else next(fresh) for i in accepted]


def classify_items(model: LoadedModel, items: list[Item]) -> list[list[DetectionRecord]]:
    """Detection records of each accepted item, in the order of the accepted items."""
    accepted = [i for i in items if i.checked is not None]
    found = model.detect([i.checked.image for i in accepted]) if accepted else []
    return [
        [DetectionRecord(d.brand, float(d.confidence), tuple(d.box) if d.box else None) for d in detections]
        for detections in found
    ]


def build_records(
    items: list[Item], found: list[list[DetectionRecord]], ingest: IngestSettings, source_name: str
) -> tuple[list[ImageRecord], list[FetchFailureRecord]]:
    """Image records (accepted with their detections, then rejected) and fetch-failure records of a batch."""
    accepted = [i for i in items if i.checked is not None]
    records = [
        _accepted(item, detections, ingest.thumbnail_size) for item, detections in zip(accepted, found, strict=True)
    ]
    failures = []
    for item in items:
        if item.rejected is not None:
            log.warning(
                "rejected photo from %s: %s (%s: %s)",
                source_name,
                item.ref.uri,
                item.rejected.reason,
                item.rejected.detail,
            )
            records.append(
                ImageRecord(
                    sha256=item.sha256,
                    uri=item.ref.uri,
                    external_id=item.ref.external_id,
                    posted_at=_utc(item.ref.posted_at),
                    time_source="source" if item.ref.posted_at else "ingested",
                    latitude=item.ref.latitude,
                    longitude=item.ref.longitude,
                    place=item.ref.place,
                    caption=item.ref.caption,
                    author=item.ref.author,
                    reach=item.ref.reach,
                    status="rejected",
                    reject_reason=item.rejected.reason,
                    reject_detail=item.rejected.detail[:1000],
                )
            )
        elif item.failure is not None:
            log.warning("fetch failed for %s: %s (%s)", source_name, item.ref.uri, item.failure.reason)
            failures.append(
                FetchFailureRecord(
                    item.ref.uri,
                    item.failure.reason,
                    str(item.failure)[:1000],
                    ref=encode_ref(item.ref, with_data=False),
                )
            )
    return records, failures


def store_batch(
    db: Database,
    model: LoadedModel,
    items: list[Item],
    ingest: IngestSettings,
    source_id: int,
    source_name: str,
    cursor: dict[str, Any] | None = None,
    outbox_id: int | None = None,
    worker: str = "worker",
) -> BatchCounts | None:
    """Classify a checked batch, build its records and save them (and the cursor) in one transaction.

    With `outbox_id` the outbox row is claimed and marked done in that same transaction; None when another
    delivery of the batch stored it already. The photos' attempt counts (check_guarded) go in it too."""
    hashes = [i.sha256 for i in items if i.sha256 and not i.known]
    try:
        records, failures = build_records(items, classify_checked(model, items), ingest, source_name)
        fetched = [i.ref.uri for i in items if i.known]
        with db.session(write=True) as session:
            forget_attempts_in(session, hashes)  # even if another delivery stored the batch
            if outbox_id is not None and not claim_for_done_in(session, outbox_id):
                return None
            result = save_batch_in(
                session, source_id, model.version_id, records, failures, cursor, ingest.phash_distance, fetched=fetched
            )
            counts = BatchCounts(result, failures, sum(1 for i in items if i.known))
            if outbox_id is not None:
                mark_done_in(session, outbox_id, worker, counts.as_json())
    except Exception:
        forgive(db, hashes)  # an exception is not a kill: no need to check these photos alone next time
        raise
    return counts


def forgive(db: Database, hashes: list[str]) -> None:
    """Drop the photos' attempt counts after their work ended without a kill; a failing database only logs."""
    try:
        forget_attempts(db, hashes)
    except StorageError as exc:  # the database may be what failed; the counts then only cost a lone check
        log.warning("cannot clear the attempt counts of %d photo(s): %s", len(hashes), exc)


def _accepted(item: Item, detections: list[DetectionRecord], thumbnail_size: int) -> ImageRecord:
    ref, checked = item.ref, item.checked
    posted, time_source = _utc(ref.posted_at), "source"
    if posted is None and checked.posted_at is not None:
        posted, time_source = checked.posted_at, "exif"
    if posted is None:
        time_source = "ingested"
    lat, lon = ref.latitude, ref.longitude
    if lat is None or lon is None:
        lat, lon = (checked.latitude, checked.longitude) if checked.latitude is not None else (lat, lon)
    thumb, tw, th = (None, None, None)
    if detections:
        thumb, tw, th = thumbnail_jpeg(checked.thumbnail or checked.image, thumbnail_size)
    return ImageRecord(
        sha256=checked.sha256,
        uri=ref.uri,
        external_id=ref.external_id,
        posted_at=posted,
        time_source=time_source,
        phash=checked.phash,
        latitude=lat,
        longitude=lon,
        place=ref.place,
        caption=ref.caption,
        author=ref.author,
        reach=ref.reach,
        width=checked.width,
        height=checked.height,
        thumbnail_jpeg=thumb,
        thumbnail_width=tw,
        thumbnail_height=th,
        detections=detections,
    )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
