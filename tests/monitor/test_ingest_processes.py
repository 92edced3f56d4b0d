"""Real `monitor` processes: SIGKILL mid-batch, two ingesters at once, the daemon and SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from cli import run_cli
from ingest_helpers import ROOT, jpeg, monitor_cmd, rows, subprocess_env

ALWAYS = {"acme": 0.001, "globex": 0.001}
WAIT = 240  # generous upper bound for a loaded 2-core machine; not a timing assertion


def wait_for(condition, what: str, proc: subprocess.Popen | None = None, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process exited with {proc.returncode} before {what}:\n{err[-3000:]}")
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def photo_folder(path, count: int, seed: int = 0):
    path.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (path / f"p{i:04d}.jpg").write_bytes(jpeg((64, 48), seed=seed + i))
    return path


def count(url: str, sql: str = "SELECT count(*) FROM images") -> int:
    try:
        return rows(url, sql)[0][0]
    except Exception:  # the table is being created or locked for a moment
        return 0


def test_sigkill_mid_batch_then_restart_stores_every_photo_once(tmp_path, sqlite_url, make_config):
    from storage.migrate import upgrade

    total = 160
    inbox = photo_folder(tmp_path / "inbox", total)
    upgrade(sqlite_url)
    config = make_config(
        sqlite_url, [{"name": "inbox", "kind": "folder", "path": str(inbox)}], classifier={"thresholds": ALWAYS}
    )
    proc = subprocess.Popen(
        monitor_cmd(config, "ingest", "--once"),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: count(sqlite_url) > 0, "the first committed batch", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    stored = count(sqlite_url)
    assert 0 < stored < total, "the kill should land mid-run"
    done = run_cli("--config", config, "ingest", "--once")
    assert done.exit_code == 0, done.output[-3000:]
    assert rows(sqlite_url, "SELECT count(*), count(DISTINCT sha256), count(DISTINCT external_id) FROM images")[0] == (
        total,
        total,
        total,
    )
    assert rows(sqlite_url, "SELECT count(*) FROM detections")[0][0] == 2 * total
    assert (
        rows(
            sqlite_url,
            "SELECT count(*) FROM (SELECT image_id, brand FROM detections "
            "GROUP BY image_id, brand HAVING count(*) > 1) d",
        )[0][0]
        == 0
    )


def test_two_concurrent_ingest_processes_store_nothing_twice(tmp_path, db_url, make_config):
    from storage.migrate import upgrade

    total = 60
    inbox = photo_folder(tmp_path / "inbox", total, seed=1000)
    upgrade(db_url)
    config = make_config(
        db_url, [{"name": "inbox", "kind": "folder", "path": str(inbox)}], classifier={"thresholds": ALWAYS}
    )
    procs = [
        subprocess.Popen(
            monitor_cmd(config, "ingest", "--once"),
            cwd=ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=WAIT) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "Ingest summary" in out
    assert rows(db_url, "SELECT count(*), count(DISTINCT sha256) FROM images")[0] == (total, total)
    assert rows(db_url, "SELECT count(*) FROM detections")[0][0] == 2 * total
    assert rows(db_url, "SELECT count(*) FROM model_versions")[0][0] == 1


def test_daemon_picks_up_a_dropped_photo_records_failures_and_stops_on_sigterm(tmp_path, sqlite_url, make_config):
    from storage.migrate import upgrade

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    upgrade(sqlite_url)
    config = make_config(
        sqlite_url,
        [
            {"name": "inbox", "kind": "folder", "path": str(inbox), "interval": 1},
            {"name": "down", "kind": "fake", "fail": "upstream is down", "interval": 1},
        ],
        classifier={"thresholds": ALWAYS},
    )
    proc = subprocess.Popen(
        monitor_cmd(config, "run"),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: count(
                sqlite_url, "SELECT count(*) FROM sources WHERE name = 'inbox' AND last_success_at IS NOT NULL"
            ),
            "the first poll",
            proc,
        )
        staged = inbox / ".incoming.jpg"  # written under a hidden name, then renamed: never half-read
        staged.write_bytes(jpeg((80, 60), seed=4242))
        staged.rename(inbox / "dropped.jpg")
        wait_for(
            lambda: count(
                sqlite_url, "SELECT count(*) FROM images WHERE external_id = 'dropped.jpg' AND status = 'accepted'"
            ),
            "the dropped photo",
            proc,
        )
        assert count(sqlite_url, "SELECT count(*) FROM detections") == 2
        wait_for(
            lambda: count(sqlite_url, "SELECT consecutive_failures FROM sources WHERE name = 'down'"),
            "the failing source to be recorded",
            proc,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err[-3000:]
    assert "daemon stopped" in err and "poll inbox" in err and "upstream is down" in err
    status = run_cli("--config", config, "status")
    assert status.exit_code == 0 and "inbox" in status.stdout and "upstream is down" in status.stdout


@pytest.mark.parametrize("command", [("ingest", "--once"), ("run", "--executor", "celery")])
def test_sigterm_ends_a_request_stuck_on_a_silent_server(tmp_path, sqlite_url, make_config, server, command):
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    answered = []

    def silent(_handler):  # holds the request far longer than anyone waits for the process
        time.sleep(WAIT * 2)
        answered.append(True)

    server.routes["/api"] = silent
    config = make_config(
        sqlite_url,
        [
            {
                "name": "api",
                "kind": "json",
                "url": server.url("/api"),
                "interval": 60,
                "allow_private": True,
                "fields": {"image": "img"},
            }
        ],
        ingest={"connect_timeout": 5, "read_timeout": WAIT * 2},
        executor={"broker_url": "redis://127.0.0.1:6379/14"},
    )
    proc = subprocess.Popen(
        monitor_cmd(config, *command),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: server.hits.get("/api"), "the request to the silent server", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err[-3000:]
    assert not answered  # it stopped while the request was still waiting
    assert count(sqlite_url, "SELECT consecutive_failures FROM sources WHERE name = 'api'") == 0


def test_daemon_and_ingest_refuse_without_a_model(tmp_path, sqlite_url, make_config):
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    config = make_config(sqlite_url, [{"name": "f", "kind": "fake"}], model=tmp_path / "missing-model")
    for command in (("run",), ("ingest", "--once")):
        result = run_cli("--config", config, *command)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: no model bundle at") and "train" in result.stderr
