"""Real-world and hostile field values never fail a batch: long identifiers kept whole, text cut and cleaned,
numbers out of range dropped, a photo the database refuses recorded with its item and reason; no secret stored."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from storage import batches, model_versions, sources, writes
from storage.engine import Database
from storage.records import DetectionRecord, FetchFailureRecord, ImageRecord
from storage.schema import Detection, FetchFailure, Image, Source

SIGNED = "https://cdn.example.net/p/" + "a" * 3000 + ".jpg?Expires=1767225600&Signature=" + "s" * 2000


@pytest.fixture
def source(db: Database) -> int:
    return sources.ensure_source(db, "feed", "json_api")


@pytest.fixture
def model(db: Database) -> int:
    return model_versions.register_model_version(db, "c" * 64, "/m", "mobilenet", 96, ["acme"], {"acme": 0.5})


def image(n: int, **fields) -> ImageRecord:
    fields.setdefault("posted_at", datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(hours=n))
    fields.setdefault("uri", f"https://example.org/{n}.jpg")
    fields.setdefault("external_id", str(n))
    return ImageRecord(
        sha256=hashlib.sha256(str(n).encode()).hexdigest(),
        phash=None,
        detections=[DetectionRecord("acme", 0.9)],
        **fields,
    )


def rows(db: Database, *columns):
    with db.session() as session:
        return session.execute(select(*columns).order_by(columns[0].class_.id)).all()


def test_long_uris_and_external_ids_are_stored_whole(db: Database, source: int, model: int) -> None:
    result = writes.save_batch(
        db,
        source,
        model,
        [image(1, uri=SIGNED, external_id=SIGNED)],
        failures=[FetchFailureRecord(SIGNED + "&x=2", "timeout", "slow")],
    )
    assert (result.new, result.failures) == (1, 1)
    assert rows(db, Image.uri, Image.external_id, Image.external_id_sha256) == [
        (SIGNED, SIGNED, hashlib.sha256(SIGNED.encode()).hexdigest())
    ]
    assert rows(db, FetchFailure.uri) == [(SIGNED + "&x=2",)]
    # Fetched again later: the long uri's failure is found and cleared through its hash.
    writes.save_batch(db, source, model, [], fetched=[SIGNED + "&x=2"])
    assert rows(db, FetchFailure.uri) == []


def test_hostile_text_numbers_and_times_are_cleaned_not_fatal(db: Database, source: int, model: int) -> None:
    hostile = image(
        1,
        caption="cola\x00 time \ud800!",
        place="P" * 400,
        author="a\x00" * 400,
        reach=10**30,
        latitude=float("nan"),
        longitude=float("inf"),
        posted_at=datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    )
    result = writes.save_batch(db, source, model, [hostile, image(2, reach=5, latitude=48.1, longitude=11.5)])
    assert (result.new, result.failures, result.detections) == (2, 0, {"acme": 2})
    (caption, place, author, reach, lat, lon, time_source), second = rows(
        db, Image.caption, Image.place, Image.author, Image.reach, Image.latitude, Image.longitude, Image.time_source
    )
    assert (caption, place, author) == ("cola time ?!", "P" * 300, "a" * 300)
    assert (reach, lat, lon, time_source) == (None, None, None, "ingested")
    assert second[3:6] == (5, 48.1, 11.5)


def test_a_photo_the_database_refuses_costs_only_that_photo(db: Database, source: int, model: int) -> None:
    batch = [image(n) for n in range(1, 6)]
    batch[2] = image(3, width=2**70)  # no integer column holds this, on either database
    result = writes.save_batch(db, source, model, batch, cursor={"n": 5})
    assert (result.new, result.failures, result.detections) == (4, 1, {"acme": 4})
    assert [u["uri"] for u in result.unstored] == ["https://example.org/3.jpg"]
    assert sorted(rows(db, Image.external_id)) == [("1",), ("2",), ("4",), ("5",)]
    ((uri, reason, detail),) = rows(db, FetchFailure.uri, FetchFailure.reason, FetchFailure.detail)
    assert (uri, reason) == ("https://example.org/3.jpg", "unstorable")
    assert detail.startswith("item '3': ")
    assert rows(db, Source.cursor) == [({"n": 5},)]
    # The same batch again stores nothing twice; the refused photo is counted as a failure once more.
    again = writes.save_batch(db, source, model, batch)
    assert (again.new, again.duplicates, again.failures) == (0, 4, 1)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Detection)) == 4
        assert session.scalar(select(FetchFailure.attempts)) == 2


def test_secrets_are_not_stored_in_clear(db: Database, source: int, model: int) -> None:
    sources.record_poll(db, source, False, "HTTP 500 from https://api.example.com/v1?page=2&api_key=TOPSECRET")
    writes.save_batch(
        db,
        source,
        model,
        [],
        failures=[
            FetchFailureRecord("https://cdn/x.jpg", "http_404", "GET https://u:hunter2@cdn/x.jpg?token=TOK: 404")
        ],
    )
    batches.record_broker(db, "redis://:brokerpass@127.0.0.1:6379/0", False, "refused amqp://g:pw2@h//")
    ((error,),) = rows(db, Source.last_error)
    ((detail,),) = rows(db, FetchFailure.detail)
    broker = batches.broker_status(db)
    stored = " ".join([error, detail, broker["url"], broker["last_error"]])
    for secret in ("TOPSECRET", "hunter2", "TOK", "brokerpass", "pw2"):
        assert secret not in stored
    assert error == "HTTP 500 from https://api.example.com/v1?page=2&api_key=***"
    assert broker["url"] == "redis://:***@127.0.0.1:6379/0"
    assert sources.source_status(db)[0]["last_error"] == error


def test_errors_stored_in_clear_before_are_redacted_when_read(db: Database, source: int) -> None:
    from storage import quality

    with db.session(write=True) as session:  # as a version that stored errors unredacted left them
        session.execute(
            Source.__table__.update().values(
                last_error="GET https://api.example.com/feed?key=OLDSECRET: 503",
                consecutive_failures=2,
                last_error_at=datetime(2026, 3, 1, tzinfo=UTC),
            )
        )
    shown = "GET https://api.example.com/feed?key=***: 503"
    assert sources.source_status(db)[0]["last_error"] == shown
    failing = quality.failing_sources(db, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert [row["last_error"] for row in failing] == [shown]


def test_a_poll_error_quoting_hostile_text_is_stored(db: Database, source: int) -> None:
    sources.record_poll(db, source, False, "bad item: caption 'a\x00b \udc80' " + "x" * 5000)
    ((error,),) = rows(db, Source.last_error)
    assert error.startswith("bad item: caption 'ab ?' x") and len(error) == 2000


def test_example_photos_for_reports_show_their_uri_redacted(db: Database, source: int, model: int) -> None:
    from types import SimpleNamespace

    from storage import samples

    writes.save_batch(db, source, model, [image(1, uri="https://api.example.com/p/1.jpg?api_key=K3Y&size=l")])
    window = SimpleNamespace(
        name="during", start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 3, 2, tzinfo=UTC)
    )
    rows = samples.sample_examples(db, model, ["acme"], [window])
    assert [row["uri"] for row in rows] == ["https://api.example.com/p/1.jpg?api_key=***&size=l"]


def test_a_failure_with_a_hostile_uri_is_stored_and_cleared_later(db: Database, source: int, model: int) -> None:
    hostile = "https://cdn.example.net/a\x00b\udc80.jpg"
    writes.save_batch(db, source, model, [], failures=[FetchFailureRecord(hostile, "timeout", "slow")])
    assert rows(db, FetchFailure.uri) == [("https://cdn.example.net/ab?.jpg",)]
    writes.save_batch(db, source, model, [], fetched=[hostile])
    assert rows(db, FetchFailure.uri) == []
