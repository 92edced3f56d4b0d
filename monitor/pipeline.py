"""The local ingest loop: each source's refs in batches, read and checked ahead of the classifier, stored
one transaction per batch."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from monitor.batch import Item, check_guarded, drop_known, read_items, store_batch
from monitor.config import Settings, SourceSettings
from monitor.model import LoadedModel, load_model
from monitor.polling import SourceSummary, poll_source, polled_refs
from monitor.sources.base import ImageRef, Source, SourceContext
from storage.engine import Database, open_database

log = logging.getLogger("monitor.ingest")
_DONE = object()
OnBatch = Callable[[SourceSummary, int], None]


class Ingestor:
    """Runs sources through the pipeline with one loaded model and one database."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        model: LoadedModel,
        stop: threading.Event | None = None,
        workers: int = 4,
        on_batch: OnBatch | None = None,
    ):
        self.on_batch = on_batch  # called after each commit with the source's totals and the batch size
        self.settings = settings
        self.db = db
        self.model = model
        self.stop = stop or threading.Event()
        self.context = SourceContext.from_settings(settings, self.stop)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")

    def close(self) -> None:
        """Stop the worker threads."""
        self.pool.shutdown(wait=True, cancel_futures=True)

    def run_source(self, source_settings: SourceSettings) -> SourceSummary:
        """One pass over a source; a failing poll is recorded with its backoff and returned, never raised."""
        summary = poll_source(self.db, source_settings, self.context, self._drain)
        if not summary.error:
            log.info(
                "poll %s: %d new, %d duplicates, %d reposts, %d rejected, %d fetch failures, detections %s",
                summary.name,
                summary.new,
                summary.duplicates,
                summary.reposts,
                sum(summary.rejected.values()),
                sum(summary.failures.values()),
                summary.detections or "{}",
            )
        return summary

    # -- the batch loop ------------------------------------------------------------------------
    def _drain(self, source: Source, source_id: int, cursor: dict[str, Any] | None, summary: SourceSummary) -> None:
        prepared: queue.Queue = queue.Queue(maxsize=1)
        halt = threading.Event()
        producer = threading.Thread(
            target=self._produce,
            args=(source, source_id, cursor, prepared, halt),
            name=f"prepare-{summary.name}",
            daemon=True,
        )
        producer.start()
        try:
            while True:
                batch = prepared.get()
                if batch is _DONE:
                    break
                if isinstance(batch, BaseException):
                    raise batch
                try:
                    self._store(source, source_id, batch, summary)
                finally:
                    prepared.task_done()  # lets a producer waiting in _quiet go on
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

    def _produce(
        self, source: Source, source_id: int, cursor: dict[str, Any] | None, out: queue.Queue, halt: threading.Event
    ) -> None:
        """Read, hash and decode batches ahead of the classifier (runs in its own thread)."""
        size = self.settings.ingest.batch_size
        try:
            batch: list[ImageRef] = []
            for ref in polled_refs(self.db, source, source_id, cursor, self.settings.ingest):
                if self.stop.is_set() or halt.is_set():
                    return
                batch.append(ref)
                if len(batch) >= size:
                    prepared = self._prepare(source, batch, lambda: _quiet(out, halt))
                    if self.stop.is_set():  # its reads may have been cut short: leave it for the next run
                        return
                    out.put(prepared)
                    batch = []
            if batch and not (self.stop.is_set() or halt.is_set()):
                prepared = self._prepare(source, batch, lambda: _quiet(out, halt))
                if not self.stop.is_set():
                    out.put(prepared)
        except BaseException as exc:  # handed to the consumer, which raises it in its thread
            out.put(exc)
        finally:
            out.put(_DONE)

    def _prepare(self, source: Source, refs: list[ImageRef], quiet: Callable[[], None]) -> list[Item]:
        items = read_items(source, refs, self.pool)
        drop_known(self.db, items)
        check_guarded(self.db, items, self.settings.ingest, self.model, self.pool, quiet)
        return items

    def _store(self, source: Source, source_id: int, items: list[Item], summary: SourceSummary) -> None:
        cursor = next((i.ref.cursor for i in reversed(items) if i.ref.cursor is not None), None)
        counts = store_batch(self.db, self.model, items, self.settings.ingest, source_id, summary.name, cursor)
        summary.add(counts)
        if self.on_batch is not None:
            self.on_batch(summary, len(items))
        source.committed([i.ref for i in items])
        log.debug("batch of %d from %s committed: %s", len(items), summary.name, counts.result)


def _quiet(prepared: queue.Queue, halt: threading.Event) -> None:
    """Wait until the consumer has stored every batch handed to it (or gave up): a photo checked alone after a
    crash must be the only one in flight, so that a crash now is its own (monitor.batch.check_guarded)."""
    with prepared.all_tasks_done:
        while prepared.unfinished_tasks and not halt.is_set():
            prepared.all_tasks_done.wait(0.1)


def ingest_once(
    settings: Settings,
    source_names: Iterable[str] | None = None,
    stop: threading.Event | None = None,
    db: Database | None = None,
    model: LoadedModel | None = None,
    on_batch: OnBatch | None = None,
) -> list[SourceSummary]:
    """One pass over the enabled sources (or the named ones); returns a summary per source."""
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
