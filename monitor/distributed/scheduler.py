"""The scheduler's side: polls write batches to the outbox (with the cursor, in one transaction), then publish.

A publish that fails never stops polling: the outage is recorded, and the reconciler sends every
pending batch once the broker answers again (and any batch pending too long after it was sent).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.config import Settings, SourceSettings
from monitor.distributed.app import FETCH_TASK, check_broker, queue_depths
from monitor.polling import SourceSummary, poll_source, polled_refs
from monitor.refs import encode_ref
from monitor.sources.base import ImageRef, Source, SourceContext
from storage.batches import (
    accepted_images,
    broker_status,
    due_batches,
    enqueue_batch,
    fail_exhausted,
    mark_published,
    prune_done,
    record_broker,
)
from storage.engine import Database
from storage.redaction import redact_url

log = logging.getLogger("monitor.scheduler")
KEEP_DONE_S = 86_400.0  # done batches are kept a day for `monitor status` and debugging


class Publisher:
    """Sends batch ids to the fetch queue; remembers whether the broker is down."""

    def __init__(self, settings: Settings, db: Database, app: Any):
        self.settings = settings
        self.db = db
        self.app = app
        self.lock = threading.Lock()
        status = broker_status(db)
        self.down = bool(status and not status["reachable"])

    def publish(self, batch_ids: Iterable[int]) -> bool:
        """Send the batches (skipped while the broker is down); False when they were not all sent."""
        ids = list(batch_ids)
        if not ids:
            return True
        with self.lock:
            if self.down:
                return False
            fetch = self.app.tasks[FETCH_TASK]
            sent: list[int] = []
            try:
                with self.app.producer_or_acquire() as producer:
                    for batch_id in ids:
                        fetch.apply_async(
                            args=[batch_id], producer=producer, retry=False, queue=self.settings.executor.fetch_queue
                        )
                        sent.append(batch_id)
            except Exception as exc:  # every transport raises its own kinds
                self._outage(f"{type(exc).__name__}: {exc}".splitlines()[0])
                return False
            finally:
                if sent:
                    mark_published(self.db, sent)
            return True

    def reconcile(self, only: set[int] | None = None) -> int:
        """Check the broker; send batches never sent or pending too long (all pending ones after an outage).

        `only`: just these batches (a reclassify run watching its own), and done ones are kept."""
        executor = self.settings.executor
        error = check_broker(self.app)
        with self.lock:
            if error:
                self._outage(error)
                return 0
            recovered = record_broker(self.db, executor.broker_url, True)
            was_down, self.down = self.down, False
        for failed in fail_exhausted(self.db, executor.max_attempts):
            log.error(
                "batch %s failed %d times and is given up (see `monitor status`): %s",
                failed["id"],
                executor.max_attempts,
                failed["error"] or "no error recorded",
            )
        everything = recovered or was_down
        if everything:
            log.info("broker %s is reachable again: sending every pending batch", _redacted(executor.broker_url))
        ids = due_batches(
            self.db,
            executor.redeliver_after,
            everything=everything,
            started_only=not everything and self._fetch_queue_busy(),
        )
        if only is not None:
            ids = [i for i in ids if i in only]
        if ids and self.publish(ids):
            log.info("sent %d pending batch(es) again", len(ids))
        if only is None:
            prune_done(self.db, KEEP_DONE_S)
        return len(ids)

    def _fetch_queue_busy(self) -> bool:
        """Whether fetch tasks still wait in the queue (a batch sent but not yet taken is then likely among them)."""
        queue = self.settings.executor.fetch_queue
        try:
            return bool(queue_depths(self.app, [queue]).get(queue))
        except Exception:  # unknown: resend as if the queue were empty (storage dedupes)
            return False

    def _outage(self, error: str) -> None:
        if not self.down:
            log.error(
                "broker %s unreachable (%s): batches stay in the outbox until it is back",
                _redacted(self.settings.executor.broker_url),
                error,
            )
        self.down = True
        try:
            record_broker(self.db, self.settings.executor.broker_url, False, error)
        except Exception as exc:  # the database may be down as well; polling goes on
            log.error("cannot record the broker outage: %s", exc)


class Enqueuer:
    """Polls sources into the outbox: each batch of refs and the cursor after it in one transaction."""

    def __init__(self, settings: Settings, db: Database, publisher: Publisher, stop: threading.Event | None = None):
        self.settings = settings
        self.db = db
        self.publisher = publisher
        self.stop = stop or threading.Event()

    def run_source(self, source_settings: SourceSettings) -> SourceSummary:
        """One pass over a source; a failing poll is recorded with its backoff and returned, never raised."""
        summary = poll_source(
            self.db, source_settings, SourceContext.from_settings(self.settings, self.stop), self._drain
        )
        if not summary.error:
            log.info("poll %s: %d photo(s) queued in %d batch(es)", summary.name, summary.queued, summary.batches)
        return summary

    def close(self) -> None:
        """Nothing to release (the app's connections close with the process)."""

    def _drain(self, source: Source, source_id: int, cursor: dict[str, Any] | None, summary: SourceSummary) -> None:
        size = self.settings.ingest.batch_size
        batch: list[ImageRef] = []
        for ref in polled_refs(self.db, source, source_id, cursor, self.settings.ingest):
            batch.append(ref)
            if len(batch) >= size:
                self._enqueue(source, source_id, batch, summary)
                batch = []
                if self.stop.is_set():
                    return
        if batch:
            self._enqueue(source, source_id, batch, summary)

    def _enqueue(self, source: Source, source_id: int, refs: list[ImageRef], summary: SourceSummary) -> None:
        cursor = next((r.cursor for r in reversed(refs) if r.cursor is not None), None)
        batch_id = enqueue_batch(self.db, source_id, "ingest", [encode_ref(r) for r in refs], cursor)
        source.committed(refs)
        summary.batches += 1
        summary.queued += len(refs)
        self.publisher.publish([batch_id])


def enqueue_reclassify(
    settings: Settings, db: Database, publisher: Publisher, model_path: str, since: datetime | None = None
) -> list[int]:
    """Write reclassify batches of stored accepted photos to the outbox and publish them; returns their ids."""
    ids: list[int] = []
    after = 0
    while True:
        rows = accepted_images(db, since, after, settings.ingest.batch_size)
        if not rows:
            break
        after = rows[-1]["id"]
        ids.append(enqueue_batch(db, None, "reclassify", rows, model_path=model_path))
    publisher.publish(ids)
    return ids


def _redacted(url: str) -> str:
    return redact_url(url)


def describe(app: Any) -> str:
    """The broker URL without its password."""
    return _redacted(app.conf.broker_url)
