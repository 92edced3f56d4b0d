"""`monitor run`: one APScheduler job per enabled source; failures back off and never stop the rest.

With the celery executor the jobs fill the outbox for workers, and one more job reconciles it with the broker.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.alerts import AlertMonitor
from monitor.batch import ATTEMPTS_KEPT_S
from monitor.config import Settings, SourceSettings
from monitor.distributed.app import make_app
from monitor.distributed.scheduler import Enqueuer, Publisher
from monitor.errors import ConfigError
from monitor.model import LoadedModel, load_model
from monitor.pipeline import Ingestor
from monitor.scheduled_reports import ReportScheduler
from storage.attempts import prune_attempts
from storage.engine import open_database

log = logging.getLogger("monitor.daemon")


def _jitter(interval: float) -> float:
    return max(0.0, min(interval * 0.1, 60.0))


class Daemon:
    """Polls every enabled source on its own interval until `stop` is set (SIGTERM/SIGINT set it)."""

    def __init__(self, settings: Settings, stop: threading.Event | None = None, executor: str | None = None):
        self.settings = settings
        self.executor = executor or settings.executor.kind
        self.sources = [s for s in settings.sources if s.enabled]
        if not self.sources:
            raise ConfigError(
                f"{settings.config_path or 'config'}: no enabled sources to watch; add one under `sources:`"
            )
        self.stop = stop or threading.Event()
        self.db = open_database(settings.database.url)
        self.model: LoadedModel | None = None
        self.publisher: Publisher | None = None
        try:
            self.runner = self._celery_runner() if self.executor == "celery" else self._local_runner()
        except Exception:
            self.db.dispose()
            raise
        self.retry_at: dict[str, datetime] = {}
        # Alerts are checked after each poll; scheduled reports run on their own crontab jobs.
        self.alerts = AlertMonitor(settings, self.db) if settings.alerts.rules else None
        self.reports = ReportScheduler(settings, self.db)

    def _local_runner(self) -> Ingestor:
        self.model = load_model(self.settings, self.db)
        return Ingestor(self.settings, self.db, self.model, self.stop)

    def _celery_runner(self) -> Enqueuer:
        self.publisher = Publisher(self.settings, self.db, make_app(self.settings))
        return Enqueuer(self.settings, self.db, self.publisher, self.stop)

    def reconcile(self) -> None:
        """Check the broker and resend pending batches (celery executor); never raises."""
        try:
            self.publisher.reconcile()
        except Exception as exc:  # e.g. the database is unreachable: try again next time
            log.error("reconcile failed: %s", exc)

    def poll(self, source_settings: SourceSettings) -> None:
        """One scheduled poll of one source, skipped while it is backing off after failures."""
        if self.stop.is_set():
            return
        waiting = self.retry_at.get(source_settings.name)
        if waiting and datetime.now(UTC) < waiting:
            log.debug("poll %s skipped: backing off until %s", source_settings.name, waiting.isoformat())
            return
        try:
            summary = self.runner.run_source(source_settings)
        except Exception as exc:  # e.g. the database is unreachable: log it, try again next interval
            log.error("poll %s failed before it could be recorded: %s", source_settings.name, exc)
            return
        if summary.error:
            self.retry_at[source_settings.name] = summary.next_try_at
        else:
            self.retry_at.pop(source_settings.name, None)
        self.after_poll()

    def after_poll(self) -> None:
        """Check the alert rules, retry due deliveries and prune stale photo attempt counts; never raises (alerts
        must not stop polling)."""
        if not self.reports.lock.acquire(blocking=False):
            return  # another poll is checking right now
        try:
            if self.alerts is not None:
                self.alerts.check()
            self.reports.deliver()
        except Exception as exc:  # e.g. the database is unreachable: the next poll checks again
            log.error("alert check failed: %s", exc)
        finally:
            self._prune()
            self.reports.lock.release()

    def _prune(self) -> None:
        # Counts of photos that never came back (monitor.batch); one cheap delete on a nearly empty table.
        try:
            pruned = prune_attempts(self.db, ATTEMPTS_KEPT_S)
        except Exception as exc:  # the next poll prunes again
            log.error("pruning old photo attempt counts failed: %s", exc)
            return
        if pruned:
            log.info("pruned %d photo attempt count(s) older than %g days", pruned, ATTEMPTS_KEPT_S / 86_400)

    def run(self, install_signals: bool = True) -> None:
        """Start the jobs and block until stopped; the running batch is committed before returning."""
        if install_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        now = datetime.now(UTC)
        for source in self.sources:
            scheduler.add_job(
                self.poll,
                IntervalTrigger(seconds=source.interval, jitter=_jitter(source.interval), timezone=UTC),
                args=[source],
                id=source.name,
                name=f"poll {source.name}",
                next_run_time=now,
            )
        if self.publisher is not None:
            every = self.settings.executor.heartbeat_interval
            scheduler.add_job(
                self.reconcile,
                IntervalTrigger(seconds=every, timezone=UTC),
                id="monitor:reconcile",
                name="check the broker and resend pending batches",
                next_run_time=now,
            )
        self.reports.add_jobs(scheduler)
        scheduler.start()
        sources = ", ".join(f"{s.name} every {s.interval:g}s" for s in self.sources)
        if self.model is not None:
            classifier = self.model.classifier
            log.info(
                "daemon started: %d source(s) [%s], model %s (%s; %s, backbone in %s)",
                len(self.sources),
                sources,
                self.settings.classifier.model,
                ", ".join(classifier.classes),
                classifier.backbone,
                classifier.compute_precision,
            )
        else:
            log.info(
                "scheduler started: %d source(s) [%s], batches to workers on queue %s",
                len(self.sources),
                sources,
                self.settings.executor.fetch_queue,
            )
        try:
            while not self.stop.wait(1.0):
                pass
        finally:
            log.info("stopping: finishing the current batch")
            scheduler.shutdown(wait=True)
            self.runner.close()
            self.db.dispose()
            log.info("daemon stopped")

    def _on_signal(self, signum: int, _frame) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stop.set()


def run_daemon(settings: Settings, stop: threading.Event | None = None, executor: str | None = None) -> None:
    """Run the daemon until SIGTERM/SIGINT (or `stop`); the local executor refuses to start without a usable
    model, the celery one only schedules (workers classify)."""
    Daemon(settings, stop, executor).run(install_signals=stop is None)
