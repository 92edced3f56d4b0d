"""Batches of photos: fetch -> check -> skip known bytes -> classify -> store in one transaction."""

from __future__ import annotations

import base64
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Optional

from monitor.errors import FetchError, ImageRejected, MonitorError
from monitor.images import CheckedImage, check_image, sha256_hex, thumbnail_jpeg
from monitor.sources.base import ImageRef

log = logging.getLogger("monitor.ingest")
_DONE = object()
MAX_BACKOFF = 6 * 3600.0


def backoff(interval: float, failures: int) -> float:
    """Seconds to wait after `failures` failed polls in a row: the interval doubled each time, capped."""
    return min(interval * 2 ** max(failures - 1, 0), max(MAX_BACKOFF, interval))


def utcnow() -> datetime:
    """Now, aware UTC."""
    return datetime.now(timezone.utc)


class ModelUnavailable(MonitorError):
    """No usable model bundle: the daemon cannot classify photos."""


@dataclass
class SourceSummary:
    """What one source's pass stored, skipped and rejected."""

    name: str
    new: int = 0
    duplicates: int = 0
    reposts: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    detections: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # fetch failures by reason
    batches: int = 0
    queued: int = 0  # photos written to the outbox for workers (celery executor)
    error: Optional[str] = None  # the poll itself failed
    next_try_at: Optional[datetime] = None  # after a failure: when to poll again (backoff)

    def add(self, result: Any) -> None:
        """Fold a storage BatchResult into the totals."""
        self.new += result.new
        self.duplicates += result.duplicates
        self.reposts += result.reposts
        for reason, count in result.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + count
        for brand, count in result.detections.items():
            self.detections[brand] = self.detections.get(brand, 0) + count


@dataclass
class LoadedModel:
    """The classifier, loaded once per process, and its registered model version."""

    classifier: Any
    version_id: int
    thresholds: dict[str, float]
    tiling: Any
    batch_size: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tiled(self) -> bool:
        return self.tiling is not None and bool(self.tiling.enabled)

    @property
    def work_side(self) -> int:
        return int(self.classifier.input_size) * (self.tiling.grid if self.tiled else 1)

    def detect(self, images: list[Any]) -> list[list[Any]]:
        """Detections per image; one inference at a time per process."""
        with self.lock:
            return self.classifier.detect(images, thresholds=self.thresholds or None,
                                          tiling=self.tiling if self.tiled else None,
                                          batch_size=self.batch_size)


def load_model(settings, db, classifier: Any = None) -> LoadedModel:
    """Load the bundle at settings.classifier.model (unless `classifier` is given) and register its version."""
    from storage.repository import register_model_version

    path = settings.classifier.model
    if classifier is None:
        classifier = load_classifier(path, settings)
    unknown = sorted(set(settings.classifier.thresholds) - set(classifier.classes))
    if unknown:
        log.warning("classifier.thresholds names brands the model does not know: %s", ", ".join(unknown))
    thresholds = {k: v for k, v in settings.classifier.thresholds.items() if k in classifier.classes}
    mismatch = calibration_mismatch(classifier.info, settings.classifier.tiling)
    if mismatch:
        log.warning("model %s: %s", path, mismatch)
    version_id = register_model_version(
        db, classifier.checksum, str(classifier.bundle_path or path), classifier.backbone,
        classifier.input_size, classifier.classes, classifier.thresholds, classifier.metrics)
    return LoadedModel(classifier, version_id, thresholds, settings.classifier.tiling,
                       settings.classifier.batch_size)


def calibration_mismatch(info: dict, tiling: Any) -> Optional[str]:
    """Why the bundle's thresholds do not fit how photos will be scored (tiled or not, which grid), or None."""
    training = info.get("training")
    if not isinstance(training, dict) or "tiling" not in training:
        return None  # bundles from before tiling was recorded, or trained elsewhere
    calibrated = training.get("tiling") or {}
    scored = bool(tiling is not None and tiling.enabled)
    if bool(calibrated.get("enabled")) == scored and (not scored or calibrated.get("grid") == tiling.grid):
        return None
    was = f"tiled {calibrated.get('grid')}x{calibrated.get('grid')} scores" if calibrated.get("enabled") \
        else "whole-photo scores"
    now = f"tiled {tiling.grid}x{tiling.grid}" if scored else "whole photos"
    more = "false alarms" if scored else "misses"
    return (f"its thresholds were calibrated on {was}, but classifier.tiling scores {now}: expect more {more}; "
            f"retrain with the same tiling (monitor train uses classifier.tiling)")


def load_classifier(path, settings) -> Any:
    """The LogoClassifier bundle at `path` in settings.classifier.precision, or ModelUnavailable saying how to
    train one."""
    how = (f"train one with `monitor --config {settings.config_path or 'config.yaml'} train` "
           f"(it writes the bundle to {path}), or point classifier.model at an existing bundle")
    if not path.exists():
        raise ModelUnavailable(f"no model bundle at {path}; {how}")
    from classifier import LogoClassifier
    from classifier.errors import ClassifierError

    try:
        return LogoClassifier.load(path, settings.classifier.precision)
    except ClassifierError as exc:
        raise ModelUnavailable(f"the model bundle at {path} is not usable ({exc}); {how}") from None


@dataclass
class Item:
    """One ref on its way through a batch: bytes, then a check result, then detections."""

    ref: ImageRef
    sha256: Optional[str] = None
    data: Optional[bytes] = None
    failure: Optional[FetchError] = None
    rejected: Optional[ImageRejected] = None
    checked: Optional[CheckedImage] = None
    known: bool = False


# -- the steps of a batch, shared by the local loop and the Celery tasks ---------------------------
def read_item(source, ref: ImageRef) -> Item:
    """The ref's bytes and sha256 (refs with data need no reading), or the fetch failure."""
    item = Item(ref)
    try:
        if ref.data is not None:
            data = ref.data
        elif hasattr(source, "read"):
            data = source.read(ref)
        else:
            raise FetchError(f"{ref.uri}: the source cannot read its photos", "unreadable")
    except FetchError as exc:
        item.failure = exc
        return item
    except Exception as exc:  # a broken source must not take the batch down
        item.failure = FetchError(f"{ref.uri}: {type(exc).__name__}: {exc}", "error")
        return item
    item.data, item.sha256 = data, sha256_hex(data)
    return item


def read_items(source, refs: list[ImageRef], pool: Optional[ThreadPoolExecutor] = None) -> list[Item]:
    """Read every ref of a batch (in the pool's threads when given)."""
    reader = pool.map if pool is not None else map
    return list(reader(lambda ref: read_item(source, ref), refs))


def drop_known(db, items: list[Item]) -> None:
    """Mark items whose bytes are stored already, or repeated in the batch, as known; drop their bytes."""
    from storage.repository import known_sha256

    known = known_sha256(db, [i.sha256 for i in items if i.sha256])
    seen: set[str] = set()
    for item in items:
        if item.sha256 and (item.sha256 in known or item.sha256 in seen):
            item.known, item.data = True, None
        elif item.sha256:
            seen.add(item.sha256)


def check_item(item: Item, ingest, model: "LoadedModel") -> None:
    """Decode and validate the item's bytes at the model's working size (sets checked or rejected)."""
    try:
        item.checked = check_image(item.data, ingest.max_pixels, ingest.min_side, model.work_side,
                                   sha256=item.sha256, square=not model.tiled,
                                   thumbnail_size=ingest.thumbnail_size)
    except ImageRejected as exc:
        item.rejected = exc
    except Exception as exc:  # Pillow raises many kinds on hostile files
        item.rejected = ImageRejected("not_an_image", f"{type(exc).__name__}: {exc}")
    item.data = None


def check_items(items: list[Item], ingest, model: "LoadedModel", pool: Optional[ThreadPoolExecutor] = None) -> None:
    """Check every item that still has bytes."""
    pending = [i for i in items if i.data is not None]
    list((pool.map if pool is not None else map)(lambda item: check_item(item, ingest, model), pending))


def classify_items(model: "LoadedModel", items: list[Item]) -> list[list[Any]]:
    """Detection records of each accepted item, in the order of the accepted items."""
    from storage.records import DetectionRecord

    accepted = [i for i in items if i.checked is not None]
    found = model.detect([i.checked.image for i in accepted]) if accepted else []
    return [[DetectionRecord(d.brand, float(d.confidence), tuple(d.box) if d.box else None) for d in detections]
            for detections in found]


def build_records(items: list[Item], found: list[list[Any]], ingest, source_name: str) -> tuple[list, list]:
    """Image records (accepted with their detections, then rejected) and fetch-failure records of a batch."""
    from storage.records import FetchFailureRecord, ImageRecord

    accepted = [i for i in items if i.checked is not None]
    records = [_accepted(item, detections, ingest.thumbnail_size) for item, detections in zip(accepted, found)]
    failures = []
    for item in items:
        if item.rejected is not None:
            log.warning("rejected photo from %s: %s (%s: %s)", source_name, item.ref.uri, item.rejected.reason,
                        item.rejected.detail)
            records.append(ImageRecord(
                sha256=item.sha256, uri=item.ref.uri, external_id=item.ref.external_id,
                posted_at=_utc(item.ref.posted_at), time_source="source" if item.ref.posted_at else "ingested",
                latitude=item.ref.latitude, longitude=item.ref.longitude, place=item.ref.place,
                caption=item.ref.caption, author=item.ref.author, reach=item.ref.reach,
                status="rejected", reject_reason=item.rejected.reason,
                reject_detail=item.rejected.detail[:1000]))
        elif item.failure is not None:
            log.warning("fetch failed for %s: %s (%s)", source_name, item.ref.uri, item.failure.reason)
            failures.append(FetchFailureRecord(item.ref.uri, item.failure.reason, str(item.failure)[:1000],
                                               ref=encode_ref(item.ref, with_data=False)))
    return records, failures


# Fetch failures that may pass: worth fetching again on a later poll (see ingest.refetch_*).
TRANSIENT_FETCH_REASONS = frozenset({
    "timeout", "connection_error", "retries_exhausted", "request_error", "dns_error", "read_error", "error",
    "http_408", "http_425", "http_429", "http_500", "http_502", "http_503", "http_504"})


def polled_refs(db, source, source_id: int, cursor, ingest) -> Iterable[ImageRef]:
    """The source's new refs after `cursor`, then its earlier fetch failures that are due another try.

    The retried refs carry no cursor, so storing them never moves the source's cursor."""
    from storage.repository import due_refetches

    yield from source.poll(cursor)
    due = due_refetches(db, source_id, TRANSIENT_FETCH_REASONS, ingest.refetch_attempts, ingest.refetch_after)
    if due:
        log.info("fetching %d photo(s) again that failed earlier for a passing reason", len(due))
    for ref in due:
        yield decode_ref(ref)


_REF_FIELDS = ("uri", "external_id", "latitude", "longitude", "place", "caption", "author", "reach")


def b64_text(data: Optional[bytes]) -> Optional[str]:
    """Bytes as base64 text for JSON (None stays None)."""
    return None if data is None else base64.b64encode(data).decode("ascii")


def b64_bytes(text: Optional[str]) -> Optional[bytes]:
    """The bytes b64_text wrote (None stays None)."""
    return None if text is None else base64.b64decode(text)


def encode_ref(ref: ImageRef, with_data: bool = True) -> dict[str, Any]:
    """A ref as JSON; its cursor stays behind (stored with the batch that carried it)."""
    out = {name: getattr(ref, name) for name in _REF_FIELDS}
    out["posted_at"] = ref.posted_at.isoformat() if ref.posted_at else None
    out["data"] = b64_text(ref.data) if with_data else None
    return out


def decode_ref(data: dict[str, Any]) -> ImageRef:
    """The ref encode_ref wrote."""
    posted = data.get("posted_at")
    return ImageRef(**{name: data.get(name) for name in _REF_FIELDS},
                    posted_at=datetime.fromisoformat(posted) if posted else None, data=b64_bytes(data.get("data")))


def batch_counts(summary: SourceSummary, items: list[Item], result: Any, failures: list) -> None:
    """Fold one stored batch into a source's summary."""
    summary.add(result)
    for failure in failures:
        summary.failures[failure.reason] = summary.failures.get(failure.reason, 0) + 1
    summary.duplicates += sum(1 for i in items if i.known)
    summary.batches += 1


def _accepted(item: Item, detections: list, thumbnail_size: int) -> Any:
    from storage.records import ImageRecord

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
        sha256=checked.sha256, uri=ref.uri, external_id=ref.external_id, posted_at=posted,
        time_source=time_source, phash=checked.phash, latitude=lat, longitude=lon, place=ref.place,
        caption=ref.caption, author=ref.author, reach=ref.reach, width=checked.width,
        height=checked.height, thumbnail_jpeg=thumb, thumbnail_width=tw, thumbnail_height=th,
        detections=detections)


def source_context(settings) -> dict[str, Any]:
    """What source constructors get besides their options."""
    base = settings.config_path.parent if settings.config_path else None
    return {"ingest": settings.ingest, "cache_dir": settings.paths.cache,
            "base_dir": base, "max_bytes": settings.ingest.max_bytes}


def close_source(source) -> None:
    """Release what a source holds (its HTTP session)."""
    fetcher = getattr(source, "fetcher", None)
    if fetcher is not None:
        fetcher.close()


class PlainReader:
    """Reads a photo by its uri alone (a local file, or HTTP under default limits): for sources the config lacks."""

    def __init__(self, ingest):
        from monitor.fetch import Fetcher

        self.max_bytes = ingest.max_bytes
        self.fetcher = Fetcher.from_settings(ingest)

    def read(self, ref: ImageRef) -> bytes:
        """The bytes at the ref's uri."""
        if ref.uri.startswith(("http://", "https://")):
            return self.fetcher.get(ref.uri).data
        try:
            with open(ref.uri, "rb") as handle:
                data = handle.read(self.max_bytes + 1)
        except OSError as exc:
            raise FetchError(f"{ref.uri}: cannot read ({exc.strerror or exc})", "read_error") from None
        if len(data) > self.max_bytes:
            raise FetchError(f"{ref.uri}: over the limit of {self.max_bytes} bytes", "too_large")
        return data


class Readers:
    """Each source's reader by name, built once from the config; a PlainReader for names the config lacks."""

    def __init__(self, settings):
        self.settings = settings
        self.built: dict[Optional[str], Any] = {}
        self.lock = threading.Lock()

    def get(self, name: Optional[str]) -> Any:
        """The source named `name` (or a PlainReader)."""
        from monitor.errors import ConfigError
        from monitor.sources.registry import build_source

        with self.lock:
            if name not in self.built:
                try:
                    self.built[name] = build_source(self.settings.source(name or ""), **source_context(self.settings))
                except ConfigError:
                    self.built[name] = PlainReader(self.settings.ingest)
            return self.built[name]

    def close(self) -> None:
        """Close every reader's HTTP session."""
        for source in self.built.values():
            close_source(source)
        self.built.clear()


def poll_source(db, source_settings, context: dict[str, Any],
                drain: Callable[[Any, int, Any, SourceSummary], None]) -> SourceSummary:
    """One pass over a source through `drain(source, source_id, cursor, summary)`; a failing poll is
    recorded with its backoff and returned, never raised."""
    from monitor.sources.registry import build_source
    from storage.repository import ensure_source, get_cursor, record_poll

    summary = SourceSummary(source_settings.name)
    source_id = ensure_source(db, source_settings.name, source_settings.kind)
    source = None
    try:
        source = build_source(source_settings, **context)
        drain(source, source_id, get_cursor(db, source_id), summary)
    except MonitorError as exc:
        summary.error = str(exc)
    except Exception as exc:  # a bug or an outage in one source must not stop the others
        log.exception("poll %s crashed", source_settings.name)
        summary.error = f"{type(exc).__name__}: {exc}"
    finally:
        close_source(source)
    if summary.error:
        failures = _failures(db, source_id) + 1
        next_try = utcnow() + timedelta(seconds=backoff(source_settings.interval, failures))
        summary.next_try_at = next_try
        record_poll(db, source_id, ok=False, error=summary.error, next_try_at=next_try)
        log.warning("poll %s failed (%d in a row, next try %s): %s", source_settings.name, failures,
                    next_try.isoformat(timespec="seconds"), summary.error)
        return summary
    record_poll(db, source_id, ok=True, next_try_at=utcnow() + timedelta(seconds=source_settings.interval))
    return summary


def _failures(db, source_id: int) -> int:
    from sqlalchemy import select
    from storage.schema import Source

    with db.session() as session:
        return int(session.scalar(select(Source.consecutive_failures).where(Source.id == source_id)) or 0)


class Ingestor:
    """Runs sources through the pipeline with one loaded model and one database."""

    def __init__(self, settings, db, model: LoadedModel, stop: Optional[threading.Event] = None,
                 workers: int = 4, on_batch: Optional[Callable[[SourceSummary, int], None]] = None):
        self.on_batch = on_batch  # called after each commit with the source's totals and the batch size
        self.settings = settings
        self.db = db
        self.model = model
        self.stop = stop or threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")

    def close(self) -> None:
        """Stop the worker threads."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def context(self) -> dict[str, Any]:
        """What source constructors get besides their options."""
        return source_context(self.settings)

    def run_source(self, source_settings) -> SourceSummary:
        """One pass over a source; a failing poll is recorded with its backoff and returned, never raised."""
        summary = poll_source(self.db, source_settings, self.context(), self._drain)
        if not summary.error:
            log.info("poll %s: %d new, %d duplicates, %d reposts, %d rejected, %d fetch failures, detections %s",
                     summary.name, summary.new, summary.duplicates, summary.reposts, sum(summary.rejected.values()),
                     sum(summary.failures.values()), summary.detections or "{}")
        return summary

    # -- the batch loop ------------------------------------------------------------------------
    def _drain(self, source, source_id: int, cursor, summary: SourceSummary) -> None:
        prepared: queue.Queue = queue.Queue(maxsize=1)
        halt = threading.Event()
        producer = threading.Thread(target=self._produce, args=(source, source_id, cursor, prepared, halt),
                                    name=f"prepare-{summary.name}", daemon=True)
        producer.start()
        try:
            while True:
                batch = prepared.get()
                if batch is _DONE:
                    break
                if isinstance(batch, BaseException):
                    raise batch
                self._store(source, source_id, batch, summary)
                if self.stop.is_set():
                    log.info("stop requested: %s stopped after a committed batch", summary.name)
                    break
        finally:
            halt.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                try:
                    prepared.get(timeout=0.1)
                except queue.Empty:
                    pass
            producer.join()

    def _produce(self, source, source_id: int, cursor, out: queue.Queue, halt: threading.Event) -> None:
        """Read, hash and decode batches ahead of the classifier (runs in its own thread)."""
        size = self.settings.ingest.batch_size
        try:
            batch: list[ImageRef] = []
            for ref in polled_refs(self.db, source, source_id, cursor, self.settings.ingest):
                if self.stop.is_set() or halt.is_set():
                    return
                batch.append(ref)
                if len(batch) >= size:
                    out.put(self._prepare(source, batch))
                    batch = []
            if batch and not (self.stop.is_set() or halt.is_set()):
                out.put(self._prepare(source, batch))
        except BaseException as exc:  # handed to the consumer, which raises it in its thread
            out.put(exc)
        finally:
            out.put(_DONE)

    def _prepare(self, source, refs: list[ImageRef]) -> list[Item]:
        items = read_items(source, refs, self.pool)
        drop_known(self.db, items)
        check_items(items, self.settings.ingest, self.model, self.pool)
        return items

    def _store(self, source, source_id: int, items: list[Item], summary: SourceSummary) -> None:
        from storage.repository import save_batch

        found = classify_items(self.model, items)
        records, failures = build_records(items, found, self.settings.ingest, summary.name)
        cursor = next((i.ref.cursor for i in reversed(items) if i.ref.cursor is not None), None)
        result = save_batch(self.db, source_id, self.model.version_id, records, failures, cursor,
                            self.settings.ingest.phash_distance, fetched=[i.ref.uri for i in items if i.known])
        batch_counts(summary, items, result, failures)
        if self.on_batch is not None:
            self.on_batch(summary, len(items))
        committed = getattr(source, "committed", None)
        if committed is not None:
            committed([i.ref for i in items])
        log.debug("batch of %d from %s committed: %s", len(items), summary.name, result)


def _utc(moment: Optional[datetime]) -> Optional[datetime]:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def ingest_once(settings, source_names: Optional[Iterable[str]] = None, stop: Optional[threading.Event] = None,
                db=None, model: Optional[LoadedModel] = None,
                on_batch: Optional[Callable[[SourceSummary, int], None]] = None) -> list[SourceSummary]:
    """One pass over the enabled sources (or the named ones); returns a summary per source."""
    from storage.engine import open_database

    names = list(source_names or [])
    chosen = [settings.source(n) for n in names] if names else [s for s in settings.sources if s.enabled]
    own_db = db is None
    db = db or open_database(settings.database.url)
    try:
        model = model or load_model(settings, db)
        ingestor = Ingestor(settings, db, model, stop, on_batch=on_batch)
        try:
            summaries = []
            for source_settings in chosen:
                if ingestor.stop.is_set():
                    break
                summaries.append(ingestor.run_source(source_settings))
            return summaries
        finally:
            ingestor.close()
    finally:
        if own_db:
            db.dispose()
