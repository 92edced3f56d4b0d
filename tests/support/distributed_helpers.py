"""Helpers for the Celery executor tests: a feed of photos, a private PostgreSQL database, worker processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest_helpers import ROOT, FeedServer, Reply, jpeg, monitor_cmd, rows, subprocess_env
from services import RABBITMQ, REDIS, pg_base_url, require_broker  # noqa: F401 (the broker URLs tests import here)

ALWAYS = {"acme": 0.001, "globex": 0.001}  # every photo gets both brands: counts are exact
WAIT = 240  # generous upper bound for a loaded 2-core machine; not a timing assertion


def wait_for(condition, what: str, procs: tuple = (), timeout: float = WAIT, every: float = 0.1):
    """Poll `condition` until truthy; fail when a watched process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{proc.args[-1]} exited with {proc.returncode} before {what}:\n{tail(proc)}")
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


def tail(proc: subprocess.Popen, chars: int = 4000) -> str:
    """The end of a finished process's log file."""
    log = getattr(proc, "log_path", None)
    return Path(log).read_text(errors="replace")[-chars:] if log else ""


def scalar(url: str, sql: str, **params: Any) -> Any:
    """One value from the database, or 0 while it is busy being created."""
    try:
        return rows(url, sql, **params)[0][0]
    except Exception:
        return 0


@contextmanager
def private_pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for a whole module, dropped afterwards; skips when no server answers."""
    from storage.scratch import scratch_database

    with scratch_database(pg_base_url(), "monitor_test") as url:
        yield url


def serve_feed(server: FeedServer, path: str, count: int, seed: int, first_day: str = "2026-03-01") -> list[bytes]:
    """An RSS feed at `path` of `count` items a minute apart, one distinct photo each; returns the photos."""
    start = datetime.fromisoformat(first_day).replace(tzinfo=UTC)
    photos, items = [], []
    for i in range(count):
        data = jpeg((64, 48), seed=seed + i)
        photos.append(data)
        server.routes[f"{path}/p{i}.jpg"] = Reply(body=data, content_type="image/jpeg")
        items.append(
            f"<item><guid>{path}-{i}</guid><pubDate>{format_datetime(start + timedelta(minutes=i), True)}"
            f'</pubDate><media:content url="{server.url(f"{path}/p{i}.jpg")}" medium="image"/></item>'
        )
    feed = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"<title>photos</title>{''.join(items)}</channel></rss>"
    )
    server.routes[f"{path}.xml"] = Reply(body=feed.encode(), content_type="application/rss+xml")
    return photos


def write_config(
    path: Path, url: str, bundle: Path, broker: str, sources: list[dict[str, Any]], tag: str, **executor: Any
) -> Path:
    """A celery config with queues of its own (tagged), fast redelivery, heartbeats; skips if the broker is absent."""
    require_broker(broker)
    data = {
        "database": {"url": url},
        "classifier": {"model": str(bundle), "thresholds": ALWAYS},
        "ingest": {"batch_size": 16, "retries": 0, "connect_timeout": 2, "read_timeout": 5, "min_side": 16},
        "paths": {"cache": str(path.parent / "cache")},
        "executor": {
            "kind": "celery",
            "broker_url": broker,
            "fetch_queue": f"test.fetch.{tag}",
            "classify_queue": f"test.classify.{tag}",
            "redeliver_after": 6,
            "visibility_timeout": 12,
            "heartbeat_interval": 1,
            **executor,
        },
        "sources": sources,
    }
    path.write_text(yaml.safe_dump(data))
    return path


def rss_source(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "kind": "rss", "url": url, "interval": 1, "allow_private": True}


def start(config: Path, *args: str, log_dir: Path, label: str) -> subprocess.Popen:
    """A `monitor` subprocess in its own process group, logging to a file."""
    log_path = log_dir / f"{label}.log"
    handle = open(log_path, "w")
    proc = subprocess.Popen(
        monitor_cmd(config, *args),
        cwd=ROOT,
        env=subprocess_env(),
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    proc.log_path = log_path  # type: ignore[attr-defined]
    handle.close()
    return proc


def start_worker(config: Path, name: str, log_dir: Path, concurrency: int = 1) -> subprocess.Popen:
    return start(config, "worker", "--concurrency", str(concurrency), "--name", name, log_dir=log_dir, label=name)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> int | None:
    """Signal the process group and wait; SIGKILL it when it does not end in time."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    return proc.returncode


def delete_queues(broker: str, names: list[str]) -> None:
    """Remove the test's queues from the broker."""
    from monitor.distributed.app import delete_queues as delete

    delete(broker, names)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exactly_once(url: str, source: str, count: int) -> None:
    """Every photo of the source stored once, with both brands once, and every batch done once."""
    images = rows(
        url,
        "SELECT count(*), count(DISTINCT i.sha256), count(DISTINCT i.uri) FROM images i "
        "JOIN sources s ON s.id = i.source_id WHERE s.name = :s",
        s=source,
    )[0]
    assert images == (count, count, count)
    assert (
        scalar(
            url, "SELECT count(*) FROM detections d JOIN sources s ON s.id = d.source_id WHERE s.name = :s", s=source
        )
        == 2 * count
    )
    assert (
        scalar(
            url,
            "SELECT count(*) FROM (SELECT image_id, brand, model_version_id FROM detections "
            "GROUP BY image_id, brand, model_version_id HAVING count(*) > 1) d",
        )
        == 0
    )
    assert (
        scalar(
            url,
            "SELECT count(*) FROM batches b JOIN sources s ON s.id = b.source_id "
            "WHERE s.name = :s AND b.state <> 'done'",
            s=source,
        )
        == 0
    )


def ingest_until_stored(
    config: Path, url: str, source: str, count: int, log_dir: Path, workers: tuple = ()
) -> subprocess.Popen:
    """Run the scheduler on one source until its photos are all stored; returns the stopped scheduler."""
    scheduler = start(config, "ingest", "--source", source, log_dir=log_dir, label=f"scheduler-{source}")
    try:
        wait_for(
            lambda: (
                scalar(
                    url,
                    "SELECT count(*) FROM images i JOIN sources s ON s.id = i.source_id WHERE s.name = :s",
                    s=source,
                )
                >= count
                and scalar(url, "SELECT count(*) FROM batches WHERE state = 'pending'") == 0
            ),
            f"{count} photos of {source} stored",
            (scheduler, *workers),
        )
    finally:
        code = stop(scheduler)
    assert code == 0, tail(scheduler)
    return scheduler


def run_monitor_checked(config: Path, *args: str) -> str:
    """Run a `monitor` command to its end; its stdout (it must succeed)."""
    from ingest_helpers import run_monitor

    done = run_monitor(config, *args, timeout=WAIT)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout
