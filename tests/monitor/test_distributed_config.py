"""The executor section of the config, the JSON form of refs, and the worker's queue roles (no broker needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.config import parse_settings
from monitor.errors import ConfigError


def test_executor_defaults_to_local_and_reads_durations():
    assert parse_settings({}).executor.kind == "local"
    executor = parse_settings(
        {
            "executor": {
                "kind": "celery",
                "broker_url": "amqp://guest:guest@h:5672//",
                "redeliver_after": "2m",
                "heartbeat_interval": 5,
            }
        }
    ).executor
    assert (executor.kind, executor.redeliver_after, executor.heartbeat_interval) == ("celery", 120.0, 5.0)
    assert (executor.fetch_queue, executor.classify_queue) == ("monitor.fetch", "monitor.classify")


@pytest.mark.parametrize(
    "section, message",
    [
        ({"kind": "threads"}, "executor.kind"),
        ({"broker_url": "http://broker"}, "redis://... or amqp://"),
        ({"queue": "x"}, "did you mean"),
    ],
)
def test_executor_mistakes_name_the_key(section, message):
    with pytest.raises(ConfigError, match="executor") as caught:
        parse_settings({"executor": section})
    assert message in str(caught.value)


def test_refs_and_fetched_items_survive_json():
    import json

    from monitor.batch import Item
    from monitor.distributed.payload import decode_items, encode_items
    from monitor.errors import FetchError
    from monitor.refs import decode_ref, encode_ref
    from monitor.sources.base import ImageRef

    ref = ImageRef(
        uri="fake://f/1",
        external_id="1",
        posted_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
        latitude=1.5,
        longitude=-2.0,
        place="Oslo",
        caption="hi",
        author="al",
        reach=7,
        cursor={"n": 1},
        data=b"\x00\xffbytes",
    )
    back = decode_ref(json.loads(json.dumps(encode_ref(ref))))
    assert back == ImageRef(**{**ref.__dict__, "cursor": None})
    items = [
        Item(ref, sha256="ab", data=b"\x01\x02"),
        Item(ref, failure=FetchError("gone", "http_404")),
        Item(ref, sha256="cd", known=True),
    ]
    decoded = decode_items(json.loads(json.dumps(encode_items(items))))
    assert [(i.sha256, i.data, i.known) for i in decoded] == [
        ("ab", b"\x01\x02", False),
        (None, None, False),
        ("cd", None, True),
    ]
    assert decoded[1].failure.reason == "http_404" and decoded[0].ref.data is None


def test_worker_queue_roles_map_to_the_configured_queues():
    from monitor.distributed.worker import queue_names

    settings = parse_settings({"executor": {"fetch_queue": "io", "classify_queue": "gpu"}})
    assert queue_names(settings, ["classify"]) == ["gpu"]
    assert queue_names(settings, ["fetch", "classify", "fetch"]) == ["io", "gpu"]
    with pytest.raises(ConfigError, match="choose from fetch, classify"):
        queue_names(settings, ["download"])
