"""The two Celery tasks: fetch (I/O: read bytes, drop known ones) and classify (decode, classify, store once)."""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monitor.batch import check_guarded, drop_known, read_items, store_batch
from monitor.config import Settings
from monitor.distributed.payload import decode_items, encode_items, matches_outbox, seal_payload, sealed
from monitor.model import LoadedModel, load_classifier, load_model
from monitor.reclassify import read_for_rescore, rescore, store_rescored
from monitor.refs import decode_ref
from monitor.sources.readers import Readers
from storage.batches import (
    claim_for_done_in,
    fail_batch,
    get_batch,
    mark_done_in,
    mark_started,
    record_batch_error,
)
from storage.engine import Database
from storage.errors import StorageError

log = logging.getLogger("monitor.worker")
FETCH_TASK = "monitor.fetch"
CLASSIFY_TASK = "monitor.classify"
# Errors a batch's own data causes (a malformed ref or payload): no retry can fix them, so the batch fails at once.
DATA_ERRORS: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError, IndexError, UnicodeError)
MAX_RETRIES = 30
RETRY_BACKOFF_MAX_S = 300


class WorkerState:
    """What one worker process keeps between tasks: its database, source readers and loaded models.

    Built in the parent and inherited by forked children; everything is made on first use in the
    process that uses it (nothing crosses a fork, TensorFlow loads in the child).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pid: int | None = None
        self._db: Database | None = None
        self._readers: Readers | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._models: dict[str | None, LoadedModel] = {}
        self._lock = threading.Lock()

    def _fresh(self) -> None:
        if self._pid != os.getpid():
            self._pid, self._db, self._readers, self._pool, self._models = os.getpid(), None, None, None, {}

    @property
    def db(self) -> Database:
        """This process's Database."""
        with self._lock:
            self._fresh()
            if self._db is None:
                self._db = Database(self.settings.database.url)
            return self._db

    @property
    def readers(self) -> Readers:
        """This process's source readers, by source name."""
        with self._lock:
            self._fresh()
            if self._readers is None:
                self._readers = Readers(self.settings)
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fetch")
            return self._readers

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Threads that read a batch's photos in parallel (made with the readers)."""
        _ = self.readers
        return self._pool

    def model(self, path: str | None = None) -> LoadedModel:
        """The configured model (or the bundle at `path`), loaded once per process and registered."""
        db = self.db
        with self._lock:
            if path not in self._models:
                classifier = load_classifier(Path(path), self.settings) if path else None
                self._models[path] = load_model(self.settings, db, classifier)
            return self._models[path]


def _transient() -> tuple[type[BaseException], ...]:
    """Errors worth retrying with backoff: the database or the broker being away for a while."""
    from kombu.exceptions import OperationalError  # kombu comes with celery, which only workers load

    return (StorageError, OperationalError, ConnectionError, TimeoutError)


def register_tasks(app) -> None:
    """Add the fetch and classify tasks to the app."""
    # shared=False: each app gets its own tasks (Celery would otherwise hand a second app the first one's).
    options = dict(
        bind=True,
        shared=False,
        acks_late=True,
        reject_on_worker_lost=True,
        autoretry_for=_transient(),
        retry_backoff=2,
        retry_backoff_max=RETRY_BACKOFF_MAX_S,
        retry_jitter=True,
        max_retries=MAX_RETRIES,
    )

    @app.task(name=FETCH_TASK, **options)
    def fetch(task, batch_id: int) -> None:
        """Read a batch's photos, drop bytes already stored, hand the rest to a classify task."""
        state: WorkerState = task.app.monitor_state
        batch = _pending(state.db, batch_id)
        if batch is None:
            return
        mark_started(state.db, batch_id, task.request.hostname or "worker")
        with _noted(state, batch_id, "fetch"):
            if batch["kind"] == "reclassify":
                payload = _fetch_for_rescore(state, batch)
            else:
                payload = _fetch_for_ingest(state, batch)
            seal_payload(state.db, batch_id, payload)
            task.app.tasks[CLASSIFY_TASK].apply_async(
                args=[batch_id, payload], queue=task.app.monitor_settings.executor.classify_queue
            )

    @app.task(name=CLASSIFY_TASK, **options)
    def classify(task, batch_id: int, payload: dict[str, Any]) -> None:
        """Decode, classify and store a batch, and mark it done in the same transaction (once)."""
        state: WorkerState = task.app.monitor_state
        batch = _pending(state.db, batch_id)
        if batch is None:
            return
        worker = task.request.hostname or "worker"
        # The refs must be the outbox row's, and the whole message the one the fetch task sealed (its bytes too).
        if not (matches_outbox(batch, payload) and sealed(batch, payload)):
            problem = "classify message does not match its outbox row or the fetch task's digest; ignored"
            log.warning("batch %s: %s (forged, stale or corrupted on the broker)", batch_id, problem)
            record_batch_error(state.db, batch_id, f"classify: {problem}")
            return
        with _noted(state, batch_id, "classify"):
            if batch["kind"] == "reclassify":
                _classify_for_rescore(state, batch, payload, worker)
            else:
                _classify_for_ingest(state, batch, payload, worker)


@contextmanager
def _noted(state: WorkerState, batch_id: int, step: str) -> Iterator[None]:
    """Record an error on the batch (for `monitor status`) and let it propagate to Celery's retry/failure;
    a data error fails the batch at once instead (retrying cannot help)."""
    try:
        yield
    except DATA_ERRORS as exc:
        error = f"{step}: {type(exc).__name__}: {exc}"
        log.error("batch %s failed on its data (not retried): %s", batch_id, error)
        fail_batch(state.db, batch_id, error)
    except Exception as exc:
        try:
            record_batch_error(state.db, batch_id, f"{step}: {type(exc).__name__}: {exc}")
        except Exception as unrecorded:  # the database itself may be what failed
            log.error("cannot record the error of batch %s: %s", batch_id, unrecorded)
        raise


def _pending(db: Database, batch_id: int) -> dict[str, Any] | None:
    batch = get_batch(db, batch_id)
    if batch is None:
        log.warning("batch %s is gone; nothing to do", batch_id)
        return None
    if batch["state"] in ("done", "failed"):
        log.info("batch %s is %s already (a redelivered task); skipped", batch_id, batch["state"])
        return None
    return batch


def _fetch_for_ingest(state: WorkerState, batch: dict[str, Any]) -> dict[str, Any]:
    source = state.readers.get(batch["source_name"])
    items = read_items(source, [decode_ref(r) for r in batch["refs"]], state.pool)
    drop_known(state.db, items)
    return {"items": encode_items(items)}


def _classify_for_ingest(state: WorkerState, batch: dict[str, Any], payload: dict[str, Any], worker: str) -> None:
    settings = state.settings
    model = state.model()
    items = decode_items(payload["items"])
    check_guarded(state.db, items, settings.ingest, model)  # one task per process (prefork): nothing else in flight
    counts = store_batch(
        state.db,
        model,
        items,
        settings.ingest,
        batch["source_id"],
        batch["source_name"] or "?",
        outbox_id=batch["id"],
        worker=worker,
    )
    if counts is not None:
        log.info("batch %s from %s stored: %s", batch["id"], batch["source_name"], counts.as_json())


def _fetch_for_rescore(state: WorkerState, batch: dict[str, Any]) -> dict[str, Any]:
    items, counts = read_for_rescore(state.readers, batch["refs"])
    return {"items": encode_items(items), "counts": dict(counts)}


def _classify_for_rescore(state: WorkerState, batch: dict[str, Any], payload: dict[str, Any], worker: str) -> None:
    model = state.model(batch["model_path"])
    found, scored = rescore(state.db, model, state.settings.ingest, decode_items(payload["items"]))
    with state.db.session(write=True) as session:
        if not claim_for_done_in(session, batch["id"]):
            return
        counts = store_rescored(session, model.version_id, found, Counter(payload.get("counts") or {}) + scored)
        mark_done_in(session, batch["id"], worker, counts)
    log.info("reclassify batch %s stored: %s", batch["id"], counts)
