"""Hostile and odd fields from real feeds on 127.0.0.1 through the whole pipeline into SQLite and PostgreSQL:
each bad field is dropped or cleaned, never the photo, never the source; the cursor never moves past now."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ingest_helpers import Reply, jpeg, rows, run_once

ALWAYS = {"acme": 0.001, "globex": 0.001}


def aware(value) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def serve_photos(server, names) -> None:
    for seed, name in enumerate(names):
        server.routes[f"/img/{name}.jpg"] = Reply(body=jpeg(seed=seed + 1), content_type="image/jpeg")


def test_bad_fields_cost_only_the_field_and_future_dates_do_not_move_the_cursor(
    db_url, server, settings_for, classifier
):
    now = datetime.now(UTC)
    recent = (now - timedelta(days=2)).replace(microsecond=0)
    epoch_ms = int(recent.timestamp() * 1000)
    long_query = "sig=" + "a" * 3000
    items = [
        {"id": "nan", "img": "/img/nan.jpg", "reach": float("nan"), "t": recent.isoformat()},
        {"id": "inf", "img": "/img/inf.jpg", "reach": float("inf")},
        {"id": "huge", "img": "/img/huge.jpg", "reach": 1e30},
        {"id": "surrogate", "img": "/img/surrogate.jpg", "caption": "logo \ud800 here"},
        {"id": "nul", "img": "/img/nul.jpg", "caption": "a\x00b"},
        {"id": "long", "img": "/img/long.jpg", "place": "P" * 400, "author": "A" * 400},
        {"img": f"/img/signed.jpg?{long_query}"},  # no id: the (3 KB) URL is the id
        {"id": "y9999", "img": "/img/y9999.jpg", "t": "9999-12-31T23:00-05:00"},
        {"id": "future", "img": "/img/future.jpg", "t": "2099-01-01T00:00:00Z"},
        {"id": "ms", "img": "/img/ms.jpg", "t": epoch_ms},
        {"id": "offmap", "img": "/img/offmap.jpg", "lat": 95.0, "lon": 200.0},
        {"id": "nullisland", "img": "/img/nullisland.jpg", "lat": 0, "lon": 0},
        {"id": "nanplace", "img": "/img/nanplace.jpg", "lat": float("nan"), "lon": 10.0},
    ]
    names = [
        "nan",
        "inf",
        "huge",
        "surrogate",
        "nul",
        "long",
        "signed",
        "y9999",
        "future",
        "ms",
        "offmap",
        "nullisland",
        "nanplace",
        "later",
    ]
    serve_photos(server, names)
    feed = {"items": items}
    server.routes["/api"] = lambda _h: Reply(body=json.dumps(feed).encode(), content_type="application/json")
    fields = {
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
    settings = settings_for(
        db_url,
        [
            {
                "name": "api",
                "kind": "json",
                "url": server.url("/api"),
                "items": "items",
                "fields": fields,
                "allow_private": True,
            }
        ],
        classifier={"thresholds": ALWAYS},
    )
    summary = run_once(settings, classifier)[0]
    assert summary.error is None and summary.new == len(items) and not summary.failures
    stored = {
        uri.split("/img/", 1)[1].split(".jpg", 1)[0]: rest
        for uri, *rest in rows(
            db_url, "SELECT uri, external_id, reach, caption, place, author, posted_at, latitude, longitude FROM images"
        )
    }
    assert set(stored) == set(names) - {"later"}
    assert [stored[k][1] for k in ("nan", "inf", "huge")] == [None, None, None]
    assert "\ud800" not in stored["surrogate"][2] and stored["surrogate"][2].startswith("logo ")
    assert stored["nul"][2] == "ab"
    assert len(stored["long"][3]) == 300 and len(stored["long"][4]) == 300
    assert stored["signed"][0].endswith(long_query)  # the whole signed URL is kept as the id
    assert aware(stored["ms"][5]) == recent
    for key in ("future", "y9999"):  # dated in the future: stored with the ingest time
        moment = aware(stored[key][5])
        assert now - timedelta(minutes=5) <= moment <= datetime.now(UTC) + timedelta(seconds=1), key
    assert [stored[k][6:] for k in ("offmap", "nullisland", "nanplace")] == [[None, None]] * 3
    cursor = rows(db_url, "SELECT cursor FROM sources WHERE name = 'api'")[0][0]
    cursor = json.loads(cursor) if isinstance(cursor, str) else cursor
    assert datetime.fromisoformat(cursor["time"]) <= datetime.now(UTC)
    # A post newer than every real one but older than the bogus 2099 arrives: it is ingested.
    items.append({"id": "later", "img": "/img/later.jpg", "t": (now - timedelta(hours=1)).isoformat()})
    again = run_once(settings, classifier)[0]
    assert again.error is None and again.new == 1


def test_rss_items_without_guid_link_or_title_are_each_ingested(sqlite_url, server, settings_for, classifier):
    names = ["u1", "u2", "u3", "u4"]
    serve_photos(server, names)

    def feed(count: int) -> bytes:
        entries = "".join(
            f'<item><enclosure url="{server.url(f"/img/{n}.jpg")}" type="image/jpeg"/></item>' for n in names[:count]
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()

    shown = {"count": 3}
    server.routes["/feed"] = lambda _h: Reply(body=feed(shown["count"]), content_type="application/rss+xml")
    settings = settings_for(
        sqlite_url,
        [{"name": "rss", "kind": "rss", "url": server.url("/feed"), "allow_private": True}],
        classifier={"thresholds": ALWAYS},
    )
    assert run_once(settings, classifier)[0].new == 3
    assert run_once(settings, classifier)[0].new == 0 and server.hits["/img/u1.jpg"] == 1  # not read again
    shown["count"] = 4
    assert run_once(settings, classifier)[0].new == 1
    assert rows(sqlite_url, "SELECT count(*), count(DISTINCT external_id) FROM images")[0] == (4, 4)
