"""Scheduled reports: written through APScheduler into out/NAME/PERIOD, once per period (also across restarts),
announced on a real webhook receiver with the headline and the file path."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.scheduled_reports import ReportScheduler
from report_seed import seed, window_of
from storage import alerts as store


@pytest.fixture
def hook():
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", bodies
    server.shutdown()


def _settings(tmp_path: Path, url: str, webhook: str):
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
database: {{url: "{url}"}}
brands: {{own: [Acme], competitors: [Globex]}}
campaigns:
  - {{name: spring, brand: Acme, start: 2026-03-02, end: 2026-03-15, competitors: [Globex]}}
reports:
  - {{name: weekly, days: 7, formats: [html, csv], schedule: "0 7 * * 1", out: out, webhook: "{webhook}"}}
  - {{name: spring-daily, campaign: spring, formats: [csv], schedule: "30 6 * * *", out: out}}
""",
        encoding="utf-8",
    )
    return load_settings(path)


def test_written_once_per_period_and_announced(tmp_path, sqlite_url, hook):
    url, bodies = hook
    db = seed(sqlite_url, lambda d: 300, lambda d: {"Acme": 20 if window_of(d) == "during" else 10, "Globex": 15})
    settings = _settings(tmp_path, sqlite_url, url)
    monday = datetime(2026, 3, 16, 7, 0, tzinfo=UTC)
    folder = ReportScheduler(settings, db).run("weekly", monday)
    assert folder == tmp_path / "out" / "weekly" / "2026-03-09_2026-03-15"
    assert (folder / "report.html").exists() and (folder / "summary.csv").exists()
    assert ReportScheduler(settings, db).run("weekly", monday.replace(hour=9)) is None  # a restart, same week
    assert len(bodies) == 1
    text = bodies[0]["text"]
    assert text.startswith("Report 'weekly' for 2026-03-09 to 2026-03-15: Between 2026-03-09 and 2026-03-15")
    assert "Acme (yours)" in text and str(folder / "report.html") in text
    nxt = ReportScheduler(settings, db).run("weekly", datetime(2026, 3, 23, 7, 0, tzinfo=UTC))
    assert nxt.name == "2026-03-16_2026-03-22" and len(bodies) == 2
    campaign = ReportScheduler(settings, db).run("spring-daily", datetime(2026, 3, 10, 6, 30, tzinfo=UTC))
    assert campaign.name == "2026-02-16_2026-03-09" and (campaign / "lift.csv").exists()
    assert ReportScheduler(settings, db).run("spring-daily", datetime(2026, 3, 1, 6, 30, tzinfo=UTC)) is None
    rows = store.recent(db)
    assert sorted(r["period"] for r in rows if r["name"] == "weekly") == [
        "2026-03-09..2026-03-15",
        "2026-03-16..2026-03-22",
    ]
    db.dispose()


def test_apscheduler_runs_the_job_on_its_crontab(tmp_path, sqlite_url, hook):
    from apscheduler.schedulers.background import BackgroundScheduler

    url, bodies = hook
    db = seed(sqlite_url, lambda d: 50, lambda d: {"Acme": 5, "Globex": 5})
    settings = _settings(tmp_path, sqlite_url, url)
    scheduler = BackgroundScheduler(timezone=UTC)
    reports = ReportScheduler(settings, db)
    reports.add_jobs(scheduler)
    weekly = scheduler.get_job("report:weekly")
    assert weekly.trigger.get_next_fire_time(None, datetime(2026, 3, 11, tzinfo=UTC)) == datetime(
        2026, 3, 16, 7, 0, tzinfo=UTC
    )
    scheduler.start()
    try:
        scheduler.modify_job("report:weekly", next_run_time=datetime.now(UTC))  # fire now, through the scheduler
        deadline = time.monotonic() + 60
        while not bodies and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        scheduler.shutdown(wait=True)
    assert len(bodies) == 1 and "Report 'weekly'" in bodies[0]["text"]
    assert len(list((tmp_path / "out" / "weekly").iterdir())) == 1
    db.dispose()
