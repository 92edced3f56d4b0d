"""Fuzz: random JSON items (hypothesis) served by a real HTTP server through the JSON source into SQLite and
PostgreSQL. Whatever the fields hold, the source never stops and every item whose photo can be fetched is
stored exactly once."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ingest_helpers import Reply, jpeg, rows
from monitor.config import SourceSettings
from monitor.model import load_model
from monitor.pipeline import Ingestor
from storage.engine import open_database

ALWAYS = {"acme": 0.001, "globex": 0.001}
FIELDS = {
    "image": "img",
    "id": "id",
    "time": "t",
    "reach": "reach",
    "caption": "caption",
    "place": "place",
    "author": "author",
    "latitude": "lat",
    "longitude": "lon",
}
_examples = itertools.count(1)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates and controls too
    st.sampled_from(["a\x00b", "\ud800", "\udfff tail", "x" * 600, "", " ", "=cmd|' /C calc'!A0", "<b>x</b>"]),
)
any_number = st.one_of(
    st.integers(), st.integers(min_value=-(10**40), max_value=10**40), st.floats(allow_nan=True, allow_infinity=True)
)
any_value = st.one_of(
    st.none(),
    st.booleans(),
    any_number,
    hostile_text,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
times = st.one_of(
    any_value,
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "9999-12-31T23:00-05:00",
            "0001-01-01T00:00+14:00",
            "2099-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "not a time",
            "1700000000000",
            "-1e300",
        ]
    ),
    st.integers(min_value=0, max_value=4_000_000_000_000),
)
# How an item names its photo: a path this server answers (fetchable), one it does not, or no usable URL.
photo_kinds = st.sampled_from(["fetchable", "fetchable_query", "absolute", "missing", "not_a_string", "absent"])
item_fields = st.fixed_dictionaries(
    {  # every field present (None is one of the values), so each example probes all
        "t": times,
        "reach": any_value,
        "caption": any_value,
        "place": any_value,
        "author": any_value,
        "lat": any_value,
        "lon": any_value,
    }
)
items = st.lists(st.tuples(photo_kinds, item_fields, st.booleans(), hostile_text), min_size=1, max_size=10)


@pytest.fixture
def fuzz_env(db_url, server, settings_for, classifier):
    """One server, database and loaded model shared by every example (each example has its own source)."""
    settings = settings_for(db_url, [], classifier={"thresholds": ALWAYS})
    db = open_database(db_url)
    try:
        yield server, db, load_model(settings, db, classifier), settings
    finally:
        db.dispose()


@given(generated=items)
@hypothesis_settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_random_items_never_stop_the_source_and_each_fetchable_photo_is_stored_once(generated, fuzz_env):
    server, db, model, settings = fuzz_env
    example = next(_examples)
    feed, fetchable = [], []
    for index, (kind, fields, with_id, query) in enumerate(generated):
        path = f"/p/{example}/{index}.jpg"
        item = dict(fields)
        if with_id:
            item["id"] = f"{example}-{index}"  # ids are unique; without one the (unique) URL is the id
        if kind in ("fetchable", "fetchable_query", "absolute"):
            server.routes[path] = Reply(body=jpeg(seed=example * 100 + index), content_type="image/jpeg")
            item["img"] = {"fetchable": path, "fetchable_query": f"{path}?q={query}", "absolute": server.url(path)}[
                kind
            ]
            fetchable.append(server.url(path))
        elif kind == "missing":
            item["img"] = f"/p/{example}/gone-{index}.jpg"
        elif kind == "not_a_string":
            item["img"] = fields.get("reach", 42)
        feed.append(item)
    body = json.dumps({"items": feed}).encode()
    server.routes[f"/api/{example}"] = Reply(body=body, content_type="application/json")
    source = SourceSettings(
        name=f"fuzz-{example}",
        kind="json",
        url=server.url(f"/api/{example}"),
        items="items",
        fields=FIELDS,
        allow_private=True,
    )
    ingestor = Ingestor(settings, db, model)
    try:
        first = ingestor.run_source(source)
        second = ingestor.run_source(source)
    finally:
        ingestor.close()
    assert first.error is None and second.error is None, (first.error, second.error)
    assert second.new == 0
    stored = rows(
        settings.database.url,
        "SELECT uri, posted_at FROM images WHERE uri LIKE :prefix",
        prefix=server.url(f"/p/{example}/") + "%",
    )
    assert sorted(uri.split("?", 1)[0] for uri, _posted in stored) == sorted(fetchable)
    latest = datetime.now(UTC) + timedelta(seconds=5)
    assert all(_aware(posted) <= latest for _uri, posted in stored)  # nothing dated in the future
    ((cursor,),) = rows(settings.database.url, "SELECT cursor FROM sources WHERE name = :name", name=source.name)
    cursor = json.loads(cursor) if isinstance(cursor, str) else cursor
    assert cursor is None or cursor.get("time") is None or _aware(cursor["time"]) <= latest


def _aware(value) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
