"""`monitor reclassify` on the celery executor: batches of stored photos through the same workers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from monitor.config import Settings
from monitor.distributed.app import make_app
from monitor.distributed.scheduler import Publisher, enqueue_reclassify
from monitor.errors import MonitorError
from monitor.model import load_classifier, load_model
from monitor.reclassify import ReclassifySummary
from storage.batches import batch_results, batch_states, count_accepted_images
from storage.engine import open_database

POLL_S = 0.5


def reclassify_on_workers(
    settings: Settings,
    model_dir: Path,
    since: datetime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    stop_after: float | None = None,
) -> ReclassifySummary:
    """Queue every stored accepted photo (posted since `since`) for the workers and wait until all are done."""
    model_dir = Path(model_dir).resolve()
    db = open_database(settings.database.url)
    try:
        # Loaded here once to check the bundle and register its version before any worker sees it.
        version_id = load_model(settings, db, load_classifier(model_dir, settings)).version_id
        publisher = Publisher(settings, db, make_app(settings))
        total = count_accepted_images(db, since)
        ids = enqueue_reclassify(settings, db, publisher, str(model_dir), since)
        mine, done_before, last_check = set(ids), 0, time.monotonic()
        started = time.monotonic()
        while True:
            states = batch_states(db, ids)
            if on_progress is not None and states["done"] > done_before:
                on_progress(min(total, (states["done"] - done_before) * settings.ingest.batch_size), total)
                done_before = states["done"]
            if states["pending"] == 0:
                break
            if stop_after is not None and time.monotonic() - started > stop_after:
                raise MonitorError(f"reclassify: {states['pending']} batch(es) still pending after {stop_after:g}s")
            if time.monotonic() - last_check >= settings.executor.heartbeat_interval:
                last_check = time.monotonic()
                publisher.reconcile(only=mine)
            time.sleep(POLL_S)
        summary = ReclassifySummary(version_id)
        for result in batch_results(db, ids):
            summary.add(result)
        return summary
    finally:
        db.dispose()
