"""Scheduled reports: written by the daemon on a crontab schedule, once per period, then announced."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.delivery import Targets, deliver_due
from monitor.notify_settings import ScheduledReport, cron_trigger
from storage import alerts as store

log = logging.getLogger("monitor.scheduled_reports")
KIND = "report"


@dataclass(frozen=True)
class Span:
    """The days one scheduled run covers: its once-only key."""

    first: date
    last: date

    @property
    def key(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


def span_for(job: ScheduledReport, now: datetime, campaign: Any = None) -> Span | None:
    """Period reports: the `days` full UTC days before today. Campaigns: from the baseline to the last full day
    (at most the after window's end); None when the campaign has not started yet."""
    today = now.astimezone(UTC).date()
    if campaign is None:
        return Span(today - timedelta(days=job.days), today - timedelta(days=1))
    from reports.windows import campaign_windows

    windows = campaign_windows(campaign)
    if today <= campaign.start:
        return None
    return Span(windows[0].first_day, min(today - timedelta(days=1), windows[-1].last_day))


def output_folder(job: ScheduledReport, settings: Any, span: Span) -> Path:
    """out/NAME/FIRST_LAST, with a relative `out` read against the config file's folder."""
    from reports.output import slug

    base = Path(job.out).expanduser()
    if not base.is_absolute() and settings.config_path is not None:
        base = Path(settings.config_path).resolve().parent / base
    return base / slug(job.name) / f"{span.first.isoformat()}_{span.last.isoformat()}"


def write_scheduled(settings: Any, db: Any, job: ScheduledReport, now: datetime | None = None) -> Path | None:
    """Write the job's report for the current period unless it was written already; returns the folder."""
    from reports.output import make_report
    from storage.campaigns import get_campaign

    now = now or datetime.now(UTC)
    campaign = get_campaign(db, job.campaign, settings.campaigns) if job.campaign else None
    span = span_for(job, now, campaign)
    if span is None or store.has_period(db, KIND, job.name, span.key):
        return None
    folder = output_folder(job, settings, span)
    common = {"configured": settings.campaigns, "tracked": settings.brands.tracked, "excel": job.excel}
    if campaign is not None:
        report, paths = make_report(settings.database.url, folder, job.formats, campaign=job.campaign, **common)
    else:
        report, paths = make_report(
            settings.database.url,
            folder,
            job.formats,
            first=span.first,
            last=span.last,
            own=settings.brands.own,
            **common,
        )
    main = next((p for p in paths if p.suffix == ".html"), folder)
    message = f"Report {job.name!r} for {span.first} to {span.last}: {report.headline}\nFile: {main}"
    targets = targets_of(job)
    store.record(
        db,
        KIND,
        job.name,
        span.key,
        message,
        detail={"paths": [str(p) for p in paths]},
        channels=targets.channels,
        now=now,
    )
    log.info("scheduled report %s written to %s", job.name, folder)
    return folder


def targets_of(job: ScheduledReport | None) -> Targets:
    """Where a scheduled report is announced."""
    return Targets(job.webhook, job.mail) if job is not None else Targets()


class ReportScheduler:
    """The daemon's side of scheduled reports: one APScheduler job per report, deliveries retried after polls."""

    def __init__(self, settings: Any, db: Any):
        self.settings, self.db = settings, db
        self.jobs = {job.name: job for job in settings.reports}
        self.lock = threading.Lock()  # one delivery round at a time, so no notification is sent twice

    def add_jobs(self, scheduler: Any) -> None:
        """One cron job per scheduled report (UTC; weekdays as crontab counts them)."""
        for job in self.jobs.values():
            scheduler.add_job(
                self.run,
                cron_trigger(job.schedule),
                args=[job.name],
                id=f"report:{job.name}",
                name=f"scheduled report {job.name}",
            )

    def run(self, name: str, now: datetime | None = None) -> Path | None:
        """Write one scheduled report now and announce it; errors are logged, never raised (the daemon goes on)."""
        try:
            folder = write_scheduled(self.settings, self.db, self.jobs[name], now)
            with self.lock:
                self.deliver(now)
            return folder
        except Exception as exc:  # a report that fails must not stop polling; the next run tries again
            log.error("scheduled report %s failed: %s", name, exc)
            return None

    def deliver(self, now: datetime | None = None) -> None:
        """Announce written reports whose delivery is due (a failed webhook or mail is retried here)."""
        deliver_due(
            self.db,
            lambda row: targets_of(self.jobs.get(row["name"])),
            self.settings.alerts.retry_after,
            now,
            kind=KIND,
        )
