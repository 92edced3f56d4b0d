"""The celery executor on Redis and PostgreSQL: a scheduler and two real worker processes.

The module shares one database, one pair of queues and two workers; each test feeds its own source.
"""

from __future__ import annotations

import signal
import uuid
from datetime import UTC, datetime

import pytest

from distributed_helpers import (
    REDIS,
    delete_queues,
    exactly_once,
    ingest_until_stored,
    private_pg_database,
    rows,
    rss_source,
    run_monitor_checked,
    scalar,
    serve_feed,
    start,
    start_worker,
    stop,
    tail,
    wait_for,
    write_config,
)
from ingest_helpers import BRANDS, FeedServer

FEED, KILLED = 240, 96


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, bundle_dir):
    """PostgreSQL, Redis queues of this module's own, a feed server and two workers (concurrency 1 each)."""
    from storage.migrate import upgrade

    tmp = tmp_path_factory.mktemp("redis-cluster")
    server = FeedServer()
    server.thread.start()
    serve_feed(server, "/feed", FEED, seed=0)
    serve_feed(server, "/kill", KILLED, seed=10_000, first_day="2026-04-01")
    tag = uuid.uuid4().hex[:8]
    with private_pg_database() as url:
        upgrade(url)
        config = write_config(
            tmp / "config.yaml",
            url,
            bundle_dir,
            REDIS,
            [
                rss_source("feed", server.url("/feed.xml")),
                rss_source("kill", server.url("/kill.xml")),
                rss_source("flaky", server.url("/flaky.xml")),
            ],
            tag,
        )
        state = {
            "url": url,
            "config": config,
            "tmp": tmp,
            "server": server,
            "workers": [start_worker(config, f"w{i}@{tag}", tmp) for i in (1, 2)],
        }
        try:
            yield state
        finally:
            for proc in state["workers"]:
                stop(proc)
            server.httpd.shutdown()
            server.httpd.server_close()
            delete_queues(REDIS, [f"test.fetch.{tag}", f"test.classify.{tag}"])


def test_a_feed_through_two_workers_is_stored_exactly_once(cluster):
    url = cluster["url"]
    ingest_until_stored(cluster["config"], url, "feed", FEED, cluster["tmp"], tuple(cluster["workers"]))
    exactly_once(url, "feed", FEED)
    batches = scalar(url, "SELECT count(*) FROM batches b JOIN sources s ON s.id = b.source_id WHERE s.name = 'feed'")
    assert batches == FEED // 16
    assert scalar(url, "SELECT sum(tasks_done) FROM workers") == batches  # each batch marked done once
    assert scalar(url, "SELECT cursor IS NOT NULL FROM sources WHERE name = 'feed'")
    status = run_monitor_checked(cluster["config"], "status")
    assert "reachable" in status and "0 pending batch(es)" in status
    assert "test.fetch." in status and status.count("0 waiting") == 2
    for proc in cluster["workers"]:
        assert proc.args[-1].split("@")[0] in status


def test_a_worker_killed_mid_task_loses_nothing_and_duplicates_nothing(cluster):
    url, config, tmp = cluster["url"], cluster["config"], cluster["tmp"]
    victim = cluster["workers"][0]
    name = victim.args[-1]
    scheduler = start(config, "ingest", "--source", "kill", log_dir=tmp, label="scheduler-kill")
    try:
        wait_for(
            lambda: scalar(url, "SELECT count(*) FROM batches WHERE state = 'pending' AND worker = :w", w=name),
            f"{name} to take a batch",
            (scheduler, *cluster["workers"]),
            every=0.01,
        )
        stop(victim, signal.SIGKILL)
        assert victim.returncode == -signal.SIGKILL
        wait_for(
            lambda: (
                scalar(url, "SELECT count(*) FROM images i JOIN sources s ON s.id = i.source_id WHERE s.name = 'kill'")
                >= KILLED
                and scalar(url, "SELECT count(*) FROM batches WHERE state = 'pending'") == 0
            ),
            "every photo after redelivery",
            (scheduler, cluster["workers"][1]),
        )
    finally:
        assert stop(scheduler) == 0, tail(scheduler)
        cluster["workers"][0] = start_worker(config, name, tmp)  # back for the next test
    exactly_once(url, "kill", KILLED)
    print(
        "batches taken more than once after the kill:", scalar(url, "SELECT count(*) FROM batches WHERE attempts > 1")
    )


def test_reclassify_with_a_second_model_adds_its_detections_once(cluster, tmp_path):
    from classifier import LogoClassifier
    from monitor.config import load_settings
    from monitor.reclassify import reclassify

    url, config = cluster["url"], cluster["config"]
    since = "2026-04-01"  # the second feed's photos; the first feed's are older
    accepted = scalar(url, "SELECT count(*) FROM images WHERE status = 'accepted' AND posted_at >= :d", d=since)
    assert accepted == KILLED
    second = tmp_path / "model-v2"
    LogoClassifier.create(BRANDS, backbone="mobilenet_v1_025", weights="none", input_size=48).save(second)
    out = run_monitor_checked(config, "reclassify", "--model", str(second), "--since", since)
    assert f"{accepted}" in out
    version = scalar(url, "SELECT max(id) FROM model_versions")
    counted = rows(
        url, "SELECT count(*), count(DISTINCT image_id) FROM detections WHERE model_version_id = :v", v=version
    )[0]
    assert counted == (2 * accepted, accepted)
    again = reclassify(load_settings(config), second, datetime.fromisoformat(since).replace(tzinfo=UTC))
    assert (again.model_version_id, again.rescored, again.detections) == (version, accepted, {})
    assert scalar(url, "SELECT count(*) FROM detections WHERE model_version_id = :v", v=version) == 2 * accepted


def test_a_batch_that_keeps_failing_is_given_up_and_shown_in_status(cluster, tmp_path):
    import yaml

    from storage.batches import enqueue_batch
    from storage.engine import Database

    url = cluster["url"]
    db = Database(url)
    try:
        poison = enqueue_batch(db, None, "ingest", ["not a ref: no worker can decode this"])
    finally:
        db.dispose()
    data = yaml.safe_load(cluster["config"].read_text())
    data["executor"]["max_attempts"] = 2
    config = tmp_path / "give-up.yaml"
    config.write_text(yaml.safe_dump(data))
    scheduler = start(config, "ingest", "--source", "feed", log_dir=tmp_path, label="scheduler-give-up")
    try:
        wait_for(
            lambda: scalar(url, "SELECT state FROM batches WHERE id = :b", b=poison) == "failed",
            "the poison batch to be given up",
            (scheduler, *cluster["workers"]),
        )
    finally:
        assert stop(scheduler) == 0, tail(scheduler)
    assert scalar(url, "SELECT attempts FROM batches WHERE id = :b", b=poison) == 2
    assert "given up" in tail(scheduler)
    status = run_monitor_checked(config, "status")
    flat = " ".join(status.split())
    assert "1 given up" in flat and f"batch {poison}" in flat and "fetch:" in flat, status


def test_a_photo_that_failed_for_a_passing_reason_is_fetched_again_through_the_workers(cluster, tmp_path):
    import yaml

    from ingest_helpers import Reply

    url, server = cluster["url"], cluster["server"]
    photos = serve_feed(server, "/flaky", 4, seed=20_000, first_day="2026-05-01")
    server.routes["/flaky/p1.jpg"] = Reply(status=503, body=b"busy", content_type="text/plain")
    data = yaml.safe_load(cluster["config"].read_text())  # the workers' config names the source too
    data["ingest"].update(refetch_attempts=10, refetch_after=0.2)
    # A slow machine must not resend the batch: its photos would be read twice (redelivery, not a refetch).
    data["executor"]["redeliver_after"] = 120
    config = tmp_path / "flaky.yaml"
    config.write_text(yaml.safe_dump(data))
    scheduler = start(config, "ingest", "--source", "flaky", log_dir=tmp_path, label="scheduler-flaky")
    procs = (scheduler, *cluster["workers"])
    failed = "SELECT count(*) FROM fetch_failures f JOIN sources s ON s.id = f.source_id WHERE s.name = 'flaky'"
    try:
        wait_for(lambda: scalar(url, failed) == 1, "the failing photo recorded", procs)
        server.routes["/flaky/p1.jpg"] = Reply(body=photos[1], content_type="image/jpeg")  # the server is back
        wait_for(lambda: scalar(url, failed) == 0, "the photo fetched again", procs)
    finally:
        assert stop(scheduler) == 0, tail(scheduler)
    exactly_once(url, "flaky", 4)
    assert rows(url, "SELECT time_source, posted_at FROM images WHERE uri = :u", u=server.url("/flaky/p1.jpg")) == [
        ("source", datetime(2026, 5, 1, 0, 1, tzinfo=UTC))
    ]
    assert server.hits["/flaky/p1.jpg"] >= 2
    carried = [
        [ref["uri"] for ref in refs]
        for (refs,) in rows(
            url,
            "SELECT b.refs FROM batches b JOIN sources s ON s.id = b.source_id WHERE s.name = 'flaky' ORDER BY b.id",
        )
    ]
    assert carried[0] == [server.url(f"/flaky/p{i}.jpg") for i in range(4)]
    # every later batch carried the failed photo alone
    assert len(carried) >= 2 and all(later == [server.url("/flaky/p1.jpg")] for later in carried[1:])
