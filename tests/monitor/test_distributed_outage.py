"""The broker goes away (a Redis that keeps nothing on disk) and comes back: the scheduler keeps polling,
`monitor status` reports the outage, and the outbox catches up afterwards with every photo stored once."""

from __future__ import annotations

import subprocess
import uuid

from distributed_helpers import (
    exactly_once,
    free_port,
    private_pg_database,
    run_monitor_checked,
    scalar,
    start,
    start_worker,
    stop,
    tail,
    wait_for,
    write_config,
)
from ingest_helpers import jpeg

EACH = 24


def redis_server(port: int, log_dir) -> subprocess.Popen:
    """A private redis-server that saves nothing, so a restart loses every queued message."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=open(log_dir / f"redis-{port}.log", "a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(lambda: _answers(port), "redis-server to answer", (proc,), timeout=30)
    return proc


def _answers(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def drop(folder, first: int, count: int) -> None:
    for i in range(first, first + count):
        staged = folder / f".incoming-{i}.jpg"  # renamed into place: never half-read
        staged.write_bytes(jpeg((64, 48), seed=30_000 + i))
        staged.rename(folder / f"p{i:04d}.jpg")


def stored(url: str) -> int:
    return scalar(url, "SELECT count(*) FROM images")


def test_scheduler_survives_a_broker_outage_reports_it_and_catches_up(tmp_path, bundle_dir):
    from storage.migrate import upgrade

    port = free_port()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with private_pg_database() as url:  # skips without PostgreSQL: before a broker is started, so none is left behind
        upgrade(url)
        broker = redis_server(port, tmp_path)
        worker = scheduler = None
        try:
            config = write_config(
                tmp_path / "config.yaml",
                url,
                bundle_dir,
                f"redis://127.0.0.1:{port}/0",
                [{"name": "inbox", "kind": "folder", "path": str(inbox), "interval": 1}],
                uuid.uuid4().hex[:8],
            )
            worker = start_worker(config, "w1@outage", tmp_path)
            scheduler = start(config, "run", "--executor", "celery", log_dir=tmp_path, label="scheduler")
            drop(inbox, 0, EACH)
            wait_for(lambda: stored(url) == EACH, "the first photos", (scheduler, worker))

            stop(broker)
            drop(inbox, EACH, EACH)
            wait_for(
                lambda: scalar(url, "SELECT count(*) FROM broker_status WHERE reachable = false"),
                "the scheduler to record the outage",
                (scheduler,),
            )
            wait_for(
                lambda: scalar(url, "SELECT count(*) FROM batches WHERE state = 'pending'"),
                "the new photos to wait in the outbox",
                (scheduler,),
            )
            status = run_monitor_checked(config, "status")
            assert "unreachable since" in status and "pending batch(es)" in status
            assert scheduler.poll() is None and stored(url) == EACH

            broker = redis_server(port, tmp_path)  # empty: whatever was queued is gone
            wait_for(lambda: stored(url) == 2 * EACH, "the outbox to catch up", (scheduler, worker))
            wait_for(
                lambda: scalar(url, "SELECT count(*) FROM batches WHERE state = 'pending'") == 0,
                "every batch done",
                (scheduler, worker),
            )
            assert "reachable" in run_monitor_checked(config, "status")
        finally:  # every process is stopped, whatever failed
            code = stop(scheduler) if scheduler else 0
            for proc in (worker, broker):
                if proc:
                    stop(proc)
            assert code == 0, tail(scheduler)
        exactly_once(url, "inbox", 2 * EACH)
        assert scalar(url, "SELECT reachable FROM broker_status") is True
        log = tail(scheduler, 200_000)
        assert "unreachable" in log and "reachable again: sending every pending batch" in log
