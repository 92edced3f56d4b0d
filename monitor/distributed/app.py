"""The Celery app built from the config: late acks, JSON only, short broker timeouts, one queue per step."""

from __future__ import annotations

import json
from typing import Any

from monitor.config import ExecutorSettings, Settings
from monitor.distributed.tasks import CLASSIFY_TASK, FETCH_TASK, WorkerState, register_tasks

__all__ = ["CLASSIFY_TASK", "FETCH_TASK", "make_app", "check_broker", "queue_depths", "delete_queues"]
CONNECT_TIMEOUT_S = 3.0  # a dead broker must not hang the scheduler
SOCKET_TIMEOUT_S = 10.0


def make_app(settings: Settings) -> Any:
    """A Celery app for `settings.executor`, with the fetch and classify tasks registered."""
    from celery import Celery  # celery loads only in processes that talk to the broker

    executor = settings.executor
    app = Celery("monitor", set_as_current=False)
    app.conf.update(
        broker_url=executor.broker_url,
        broker_connection_timeout=CONNECT_TIMEOUT_S,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options(executor),
        broker_pool_limit=4,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,  # a task is acknowledged once its work is stored, so a lost worker loses nothing
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_publish_retry=False,  # the outbox resends; a blocking retry would stall the scheduler
        task_default_queue=executor.fetch_queue,
        task_create_missing_queues=True,
        task_routes={FETCH_TASK: {"queue": executor.fetch_queue}, CLASSIFY_TASK: {"queue": executor.classify_queue}},
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_send_task_events=False,
        enable_utc=True,
    )
    app.monitor_settings = settings
    app.monitor_state = WorkerState(settings)
    register_tasks(app)
    return app


def transport_options(executor: ExecutorSettings) -> dict[str, Any]:
    """Broker transport options: Redis gets the visibility timeout and socket timeouts."""
    if executor.broker_url.startswith(("redis://", "rediss://")):
        return {
            "visibility_timeout": executor.visibility_timeout,
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
            "socket_timeout": SOCKET_TIMEOUT_S,
            "max_retries": 1,
        }
    return {"max_retries": 1}


def check_broker(app) -> str | None:
    """None when the broker answers, else the error in one line."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=CONNECT_TIMEOUT_S * 2)
            _ = connection.default_channel  # Redis only talks on the first command
        return None
    except Exception as exc:  # every transport raises its own kinds
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:500]


def queue_depths(app, queues: list[str]) -> dict[str, int | None]:
    """Messages waiting in each queue (None when AMQP has no such queue yet), by passive declare."""
    depths: dict[str, int | None] = {}
    redis = str(app.conf.broker_url).startswith(("redis://", "rediss://"))
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=CONNECT_TIMEOUT_S * 2)
        for name in queues:
            channel = connection.channel()
            try:
                depths[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
            except Exception:  # AMQP: 404 NOT_FOUND closes the channel; Redis: ChannelError
                depths[name] = 0 if redis else None  # Redis deletes a queue's list when it empties
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
    return depths


def delete_queues(broker_url: str, names: list[str]) -> None:
    """Remove queues, with the exchanges and Redis bindings Celery made for them (for tests and benches)."""
    from kombu import Connection

    with Connection(broker_url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
        for name in names:
            for delete in ("queue_delete", "exchange_delete"):
                channel = connection.channel()
                try:
                    getattr(channel, delete)(name)
                except Exception:  # not there
                    pass
                finally:
                    try:
                        channel.close()
                    except Exception:
                        pass
    if broker_url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(broker_url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        try:
            sep = "\x06\x16"  # kombu's priority suffix separator
            client.delete(
                *[
                    key
                    for name in names
                    for key in (
                        name,
                        *(f"{name}{sep}{p}" for p in (3, 6, 9)),
                        f"_kombu.binding.{name}",
                        f"_kombu.binding_permanent.{name}",
                    )
                ]
            )
            # Unacknowledged messages of a killed consumer wait here to be restored into their queue.
            for tag, value in client.hscan_iter("unacked"):
                try:
                    _message, exchange, routing_key = json.loads(value)
                except ValueError:
                    continue
                if exchange in names or routing_key in names:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
        finally:
            client.close()
