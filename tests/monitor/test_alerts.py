"""Alerts against a real HTTP receiver and a real SMTP server on 127.0.0.1: one alert for a planted jump,
none for a flat brand, none again after a restart; a failing webhook is recorded and retried."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from monitor.alerts import AlertMonitor, crossed, evaluate
from monitor.config import load_settings
from monitor.notify_settings import AlertRule
from report_seed import seed
from storage import alerts as store

JUMP_DAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)


def _config(tmp_path: Path, db_url: str, webhook: str, smtp_port: int) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
database: {{url: "{db_url}"}}
alerts:
  webhook: "{webhook}"
  retry_after: 5m
  mail: {{host: 127.0.0.1, port: {smtp_port}, sender: monitor@test.local, to: [analyst@test.local],
          username: monitor, password: "${{SMTP_TEST_PASSWORD}}"}}
  rules:
    - {{name: any-jump, brand: "*", direction: rise, ratio: 2, min_count: 10, days: 1, trailing_weeks: 2,
        cooldown: 2d}}
""",
        encoding="utf-8",
    )
    return path


def _world(url: str):
    """200 photos a day; Acme is in 5 a day but 30 on the jump day; Globex is flat at 10 a day."""
    return seed(url, lambda d: 200, lambda d: {"Acme": 30 if d == JUMP_DAY else 5, "Globex": 10})


def test_one_alert_for_the_jump_none_for_flat_none_after_restart(tmp_path, sqlite_url, receiver, smtp, monkeypatch):
    monkeypatch.setenv("SMTP_TEST_PASSWORD", "hunter2-not-printed")
    db = _world(sqlite_url)
    settings = load_settings(_config(tmp_path, sqlite_url, receiver.url, smtp.server_address[1]))
    first = AlertMonitor(settings, db)
    assert len(first.check(NOW)) == 1
    assert first.check(NOW + timedelta(minutes=5)) == []  # the next poll: already recorded
    restarted = AlertMonitor(settings, db)  # a new daemon on the same database
    assert restarted.check(NOW + timedelta(hours=1)) == []
    assert restarted.check(NOW + timedelta(days=1)) == []  # a new day, but within the 2-day cool-down
    assert len(receiver.bodies) == 1 and len(smtp.messages) == 1
    text = receiver.bodies[0]["text"]
    assert text.startswith("Acme rose to 6.0x its usual rate: 30 of 200 photos") and "Globex" not in text
    sender, rcpts, mail = smtp.messages[0]
    assert b"analyst@test.local" in rcpts[0] and mail["Subject"] == "[monitor] alert: any-jump"
    assert "Acme rose to 6.0x" in mail.get_payload()
    assert smtp.logins == [[b"monitor", b"hunter2-not-printed"]]  # the password came from the environment
    rows = store.recent(db)
    assert [(r["brand"], r["period"], r["delivered"], r["last_error"]) for r in rows] == [
        ("Acme", "2026-03-10..2026-03-10", "webhook,mail", None)
    ]
    assert "hunter2" not in repr(settings) and "SECRET" not in repr(settings.alerts)
    db.dispose()


def test_a_failing_webhook_is_recorded_and_retried_while_mail_goes(tmp_path, db_url, receiver, smtp, monkeypatch):
    monkeypatch.setenv("SMTP_TEST_PASSWORD", "pw")
    db = _world(db_url)
    settings = load_settings(_config(tmp_path, db_url, receiver.url, smtp.server_address[1]))
    receiver.status = 500
    monitor = AlertMonitor(settings, db)
    assert len(monitor.check(NOW)) == 1
    row = store.recent(db)[0]
    assert row["delivered"] == "mail" and row["last_error"] == "webhook answered HTTP 500" and row["attempts"] == 1
    assert "SECRET" not in row["last_error"]
    monitor.check(NOW + timedelta(minutes=1))  # before retry_after: no new try
    assert len(receiver.bodies) == 1
    receiver.status = 200
    monitor.check(NOW + timedelta(minutes=6))
    row = store.recent(db)[0]
    assert row["delivered"] == "mail,webhook" and row["last_error"] is None and row["attempts"] == 2
    assert len(receiver.bodies) == 2 and len(smtp.messages) == 1  # mail was not sent twice
    db.dispose()


def test_unreachable_receivers_never_stop_the_check(tmp_path, sqlite_url, monkeypatch):
    monkeypatch.setenv("SMTP_TEST_PASSWORD", "pw")
    db = _world(sqlite_url)
    settings = load_settings(_config(tmp_path, sqlite_url, "http://127.0.0.1:9/hook?token=abc", 9))
    assert len(AlertMonitor(settings, db).check(NOW)) == 1
    error = store.recent(db)[0]["last_error"]
    assert error.startswith("webhook unreachable (ConnectionError); mail via 127.0.0.1:9 failed")
    assert "abc" not in error
    db.dispose()


def test_drop_rules_need_enough_expected_photos(sqlite_url):
    rise = AlertRule(name="r", direction="rise", ratio=2, min_count=10)
    drop = AlertRule(name="d", direction="drop", ratio=2, min_count=10)
    assert crossed(rise, 20, 1000, 100, 10000) and not crossed(rise, 9, 100, 10, 10000)
    assert crossed(drop, 2, 1000, 100, 10000)  # expected 10, saw 2
    assert not crossed(drop, 0, 100, 100, 10000)  # expected 1: too few to tell
    db = seed(sqlite_url, lambda d: 200, lambda d: {"Acme": 0 if d == JUMP_DAY else 20, "Globex": 10})
    found = evaluate(db, [drop, AlertRule(name="g", brand="Globex", direction="drop")], NOW)
    assert [(f.rule.name, f.brand, f.photos) for f in found] == [("d", "Acme", 0)]
    db.dispose()


def test_cli_sends_a_sample_and_status_lists_alerts(tmp_path, sqlite_url, receiver, smtp, monkeypatch):
    from cli import run_cli

    monkeypatch.setenv("SMTP_TEST_PASSWORD", "hunter2-not-printed")
    db = _world(sqlite_url)
    config = _config(tmp_path, sqlite_url, receiver.url, smtp.server_address[1])
    sample = run_cli("--config", config, "alerts", "test", check=True)
    assert sample.stdout.strip() == "sample alert sent to webhook and mail"
    assert len(receiver.bodies) == 1 and "this is a test" in receiver.bodies[0]["text"] and len(smtp.messages) == 1
    assert store.recent(db) == []  # a sample is not recorded
    AlertMonitor(load_settings(config), db).check(NOW)
    for args in (("status",), ("alerts", "list")):
        shown = run_cli("--config", config, *args, check=True).stdout
        assert "alert any-jump: Acme rose to 6.0x its usual rate" in shown and "[sent to webhook, mail]" in shown
        assert "hunter2" not in shown and "SECRET" not in shown
    receiver.status = 500
    failed = run_cli("--config", config, "alerts", "test")
    assert failed.exit_code == 1 and failed.stderr.strip() == "Error: webhook answered HTTP 500"
    db.dispose()


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            'alerts: {webhook: "ftp://hooks.example/T0/SECRET-TOKEN"}',
            "alerts.webhook: must be an http:// or https:// URL",
        ),
        ("alerts: {rules: [{name: a, direction: up}]}", "alerts.rules[0].direction: Input should be 'rise' or 'drop'"),
        ('reports: [{name: w, schedule: "0 7 * *"}]', "reports[0].schedule: must be a crontab line of 5 fields"),
        ("alerts: {mail: {host: h, to: [a@b.c], pasword: SECRET-TOKEN}}", "alerts.mail.pasword: unknown key; did you"),
    ],
)
def test_config_errors_name_the_key_without_echoing_secrets(tmp_path, text, expected):
    from monitor.errors import ConfigError

    path = tmp_path / "config.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert expected in str(caught.value) and "SECRET-TOKEN" not in str(caught.value)
