"""What `monitor status` adds with the celery executor: queue depths, workers, the outbox and the broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.config import Settings
from monitor.distributed.app import check_broker, make_app, queue_depths
from monitor.distributed.scheduler import describe
from storage.batches import broker_status, list_workers, outbox_backlog
from storage.engine import Database


@dataclass
class ClusterStatus:
    """A snapshot of the distributed executor."""

    broker_url: str
    broker_error: str | None  # None: it answered just now
    broker_record: dict[str, Any] | None  # what the scheduler last recorded
    queues: dict[str, int | None] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)
    backlog: dict[str, Any] = field(default_factory=dict)


def cluster_status(settings: Settings, db: Database) -> ClusterStatus:
    """Ask the broker and the database; an unreachable broker is reported, not raised."""
    app = make_app(settings)
    error = check_broker(app)
    executor = settings.executor
    names = [executor.fetch_queue, executor.classify_queue]
    depths: dict[str, int | None] = dict.fromkeys(names)
    if error is None:
        try:
            depths = queue_depths(app, names)
        except Exception as exc:  # went away between the two calls
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return ClusterStatus(describe(app), error, broker_status(db), depths, list_workers(db), outbox_backlog(db))
