"""The celery executor on RabbitMQ and PostgreSQL: a scheduler and two real worker processes."""

from __future__ import annotations

import uuid

from distributed_helpers import (
    RABBITMQ,
    delete_queues,
    exactly_once,
    ingest_until_stored,
    private_pg_database,
    rss_source,
    run_monitor_checked,
    scalar,
    serve_feed,
    start_worker,
    stop,
    write_config,
)
from ingest_helpers import FeedServer

FEED = 200


def test_a_feed_through_two_workers_on_rabbitmq_is_stored_exactly_once(tmp_path, server: FeedServer, bundle_dir):
    from storage.migrate import upgrade

    serve_feed(server, "/feed", FEED, seed=20_000)
    tag = uuid.uuid4().hex[:8]
    queues = [f"test.fetch.{tag}", f"test.classify.{tag}"]
    with private_pg_database() as url:
        upgrade(url)
        config = write_config(
            tmp_path / "config.yaml", url, bundle_dir, RABBITMQ, [rss_source("feed", server.url("/feed.xml"))], tag
        )
        workers = [start_worker(config, f"w{i}@{tag}", tmp_path) for i in (1, 2)]
        try:
            ingest_until_stored(config, url, "feed", FEED, tmp_path, tuple(workers))
            status = run_monitor_checked(config, "status")  # queue depths by passive declare on AMQP
            assert all(f"queue {name}" in status for name in queues) and status.count("0 waiting") == 2
        finally:
            codes = [stop(proc) for proc in workers]
            delete_queues(RABBITMQ, queues)
        exactly_once(url, "feed", FEED)
        assert codes == [0, 0]  # SIGTERM: a warm shutdown
        assert scalar(url, "SELECT sum(tasks_done) FROM workers") == scalar(url, "SELECT count(*) FROM batches")
