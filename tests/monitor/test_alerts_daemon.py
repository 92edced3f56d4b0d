"""The daemon checks alerts after each poll: one alert reaches a real webhook receiver and SMTP server for a
planted jump today, none for the flat brand, and none again after the daemon restarts on the same database."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from monitor.daemon import Daemon
from storage.engine import Database
from storage.rollups import rebuild_rollups
from storage.schema import Detection, Image, ModelVersion, Source


def _plant(url: str, now: datetime) -> None:
    """21 days of 100 photos a day; acme in 5 a day but 40 today; globex flat at 10 a day."""
    db = Database(url)
    images, detections = [], []
    with db.engine.begin() as conn:
        conn.execute(
            insert(Source.__table__),
            [{"id": 1, "name": "planted", "kind": "folder", "consecutive_failures": 0, "created_at": now}],
        )
        conn.execute(
            insert(ModelVersion.__table__),
            [
                {
                    "id": 1,
                    "checksum": "b" * 64,
                    "bundle_path": "/m",
                    "backbone": "mobilenet",
                    "input_size": 64,
                    "classes": ["acme", "globex"],
                    "thresholds": {"acme": 0.5, "globex": 0.5},
                    "metrics": {},
                    "created_at": now,
                }
            ],
        )
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for back in range(21):
            day = today - timedelta(days=back)
            acme = 40 if back == 0 else 5
            for k in range(100):
                image_id = len(images) + 1
                posted = day + timedelta(seconds=30 * k)
                images.append(
                    {
                        "id": image_id,
                        "source_id": 1,
                        "sha256": f"{image_id:064x}",
                        "uri": f"u{image_id}",
                        "posted_at": posted,
                        "time_source": "source",
                        "ingested_at": now,
                        "status": "accepted",
                    }
                )
                for brand, count in (("acme", acme), ("globex", 10)):
                    if k < count:
                        detections.append(
                            {
                                "image_id": image_id,
                                "brand": brand,
                                "confidence": 0.9,
                                "model_version_id": 1,
                                "posted_at": posted,
                                "source_id": 1,
                                "created_at": now,
                            }
                        )
        conn.execute(insert(Image.__table__), images)
        conn.execute(insert(Detection.__table__), detections)
        rebuild_rollups(conn)
    db.dispose()


def _polled_since(url: str, moment: datetime) -> bool:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            polled = conn.execute(select(Source.last_polled_at).where(Source.name == "inbox")).scalar()
    finally:
        db.dispose()
    return polled is not None and polled >= moment


def _run_daemon(settings, until) -> None:
    stop = threading.Event()
    daemon = Daemon(settings, stop)
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not until() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # the check runs right after the poll; a second delivery (there must be none) shows up
    stop.set()
    thread.join(60)


def test_daemon_alerts_once_and_not_again_after_restart(tmp_path, sqlite_url, settings_for, receiver, smtp):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    alerts = {
        "webhook": receiver.url,
        "mail": {"host": "127.0.0.1", "port": smtp.server_address[1], "to": ["analyst@test.local"]},
        "rules": [{"name": "jump", "brand": "*", "ratio": 3, "min_count": 10, "days": 1, "trailing_weeks": 2}],
    }
    settings = settings_for(
        sqlite_url, [{"name": "inbox", "kind": "folder", "path": str(inbox), "interval": 3600}], alerts=alerts
    )
    now = datetime.now(UTC)
    if now.hour == 23 and now.minute >= 58:  # the planted day must still be today when the daemon checks
        time.sleep(180)
        now = datetime.now(UTC)
    _plant(sqlite_url, now)
    _run_daemon(settings, lambda: receiver.bodies and smtp.messages)
    assert len(receiver.bodies) == 1 and len(smtp.messages) == 1
    assert receiver.bodies[0]["text"].startswith("acme rose to 8.0x its usual rate: 40 of 100 photos")
    restarted = datetime.now(UTC)
    _run_daemon(settings, lambda: _polled_since(sqlite_url, restarted))  # a restart: one poll and check, nothing new
    assert _polled_since(sqlite_url, restarted)
    assert len(receiver.bodies) == 1 and len(smtp.messages) == 1
