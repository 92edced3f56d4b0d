"""`monitor worker`: a prefork Celery worker on the fetch and/or classify queues, with heartbeats in the database."""

from __future__ import annotations

import logging
import os
import socket
import threading

from monitor.config import Settings
from monitor.distributed.app import make_app
from monitor.errors import ConfigError
from storage.batches import heartbeat
from storage.engine import Database, open_database
from storage.schema import utcnow

log = logging.getLogger("monitor.worker")
ROLES = ("fetch", "classify")


def queue_names(settings: Settings, roles: list[str]) -> list[str]:
    """The configured queue of each role (fetch, classify)."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise ConfigError(f"unknown queue role(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(ROLES)}")
    executor = settings.executor
    return [executor.fetch_queue if role == "fetch" else executor.classify_queue for role in dict.fromkeys(roles)]


def default_name() -> str:
    """A worker name unique on this machine."""
    return f"monitor{os.getpid()}@{socket.gethostname()}"


class Heartbeat:
    """Writes the worker's row every interval from a thread of the main process."""

    def __init__(self, settings: Settings, name: str, queues: list[str], concurrency: int):
        self.settings, self.name, self.queues, self.concurrency = settings, name, queues, concurrency
        self.started = utcnow()
        self.db = Database(settings.database.url)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def beat(self) -> None:
        """One heartbeat."""
        heartbeat(self.db, self.name, os.getpid(), self.queues, self.concurrency, self.started)

    def _run(self) -> None:
        while not self.stop.wait(self.settings.executor.heartbeat_interval):
            try:
                self.beat()
            except Exception as exc:  # the database may be away for a while; the worker goes on
                log.warning("heartbeat failed: %s", exc)

    def close(self) -> None:
        """Stop beating."""
        self.stop.set()
        self.thread.join(timeout=5)
        self.db.dispose()


def run_worker(
    settings: Settings,
    concurrency: int = 1,
    roles: list[str] | None = None,
    name: str | None = None,
    loglevel: str = "INFO",
) -> int:
    """Run a Celery worker until SIGTERM (finishes running tasks) or SIGINT; returns its exit code."""
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    queues = queue_names(settings, list(roles or ROLES))
    open_database(settings.database.url).dispose()  # fail early, with `monitor db upgrade` advice
    from celery.utils.nodenames import default_nodename, host_format

    name = host_format(default_nodename(name or default_name()))  # as Celery names the node (%h, %n, %d)
    app = make_app(settings)
    heart = Heartbeat(settings, name, queues, concurrency)
    heart.beat()  # the row exists before the first task counts itself in it
    heart.db.dispose()  # no pooled connection crosses the fork into the pool's children
    heart.thread.start()
    try:
        # Prefork: the children fork from this process, which never imports TensorFlow (tasks load it).
        argv = [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={','.join(queues)}",
            "--pool=prefork",
            f"--hostname={name}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        try:
            app.worker_main(argv=argv)
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0
    finally:
        heart.close()
