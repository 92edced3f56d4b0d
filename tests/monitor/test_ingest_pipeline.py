"""The ingest pipeline in-process with a real tiny model and real databases."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from ingest_helpers import Reply, corpus, jpeg, rows, run_once
from monitor.model import ModelUnavailable, load_model
from monitor.pipeline import ingest_once
from storage.engine import open_database

ALWAYS = {"acme": 0.001, "globex": 0.001}  # every accepted photo gets both brands: deterministic


def by_name(summaries):
    return {s.name: s for s in summaries}


def test_corpus_folder_every_file_stored_with_its_reason(tmp_path, sqlite_url, settings_for, classifier):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = corpus()
    for name, (data, _status, _reason) in files.items():
        (inbox / name).write_bytes(data)
    (inbox / "noise.jpg.json").write_text(json.dumps({"posted_at": "2024-03-01T09:30:00", "place": "Rome"}))
    settings = settings_for(
        sqlite_url,
        [{"name": "inbox", "kind": "folder", "path": str(inbox)}],
        ingest={"max_pixels": 1_000_000},
        classifier={"thresholds": ALWAYS},
    )
    summary = run_once(settings, classifier)[0]
    stored = {
        uri.rsplit("/", 1)[1]: (status, reason, w, h, ts, lat, place)
        for uri, status, reason, w, h, ts, lat, place in rows(
            sqlite_url, "SELECT uri, status, reject_reason, width, height, time_source, latitude, place FROM images"
        )
    }
    assert set(stored) == set(files)
    for name, (_data, status, reason) in files.items():
        assert stored[name][:2] == (status, reason), name
    expected_rejects: dict[str, int] = {}
    for _data, status, reason in files.values():
        if status == "rejected":
            expected_rejects[reason] = expected_rejects.get(reason, 0) + 1
    assert summary.error is None and summary.rejected == expected_rejects and summary.new == len(files)
    assert stored["rotated.jpg"][2:4] == (60, 80)
    assert stored["exif-time-gps.jpg"][4:6] == ("exif", 48.5)
    assert stored["noise.jpg"][4] == "source" and stored["noise.jpg"][6] == "Rome"
    accepted = sum(1 for _d, status, _r in files.values() if status == "accepted")
    assert summary.detections == {"acme": accepted, "globex": accepted}
    assert rows(sqlite_url, "SELECT count(*) FROM thumbnails")[0][0] == accepted
    assert (
        rows(
            sqlite_url,
            "SELECT count(*) FROM detections d JOIN images i ON i.id = d.image_id WHERE i.status <> 'accepted'",
        )[0][0]
        == 0
    )
    again = run_once(settings, classifier)[0]
    assert (again.new, again.duplicates, again.batches) == (0, 0, 0)  # unchanged files are not read


def _fake_items():
    noise = jpeg((96, 72), seed=5, quality=90)
    near = jpeg((96, 72), seed=5, quality=70)  # different bytes, same picture
    return [
        {"id": "a", "data_base64": base64.b64encode(noise).decode(), "posted_at": "2024-01-01T00:00:00Z"},
        {"id": "a-again", "data_base64": base64.b64encode(noise).decode()},
        {"id": "a-repost", "data_base64": base64.b64encode(near).decode()},
        {"id": "b", "data_base64": base64.b64encode(jpeg((96, 72), seed=6)).decode()},
        {"id": "junk", "data_base64": base64.b64encode(b"<html>").decode()},
    ]


def test_same_bytes_once_near_copies_as_reposts_and_reingest_is_idempotent(db_url, settings_for, classifier):
    settings = settings_for(
        db_url, [{"name": "fake", "kind": "fake", "items": _fake_items()}], classifier={"thresholds": ALWAYS}
    )
    first = run_once(settings, classifier)[0]
    assert (first.new, first.duplicates, first.reposts, first.rejected) == (4, 1, 1, {"not_an_image": 1})
    repost = rows(db_url, "SELECT repost_of_id FROM images WHERE external_id = 'a-repost'")[0][0]
    assert repost == rows(db_url, "SELECT id FROM images WHERE external_id = 'a'")[0][0]
    assert rows(db_url, "SELECT cursor FROM sources WHERE name = 'fake'")[0][0] in ({"done": 5}, '{"done": 5}')
    counts = rows(db_url, "SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM detections)")[0]
    assert counts == (4, 6)
    assert run_once(settings, classifier)[0].new == 0
    # Forget the cursor: every photo comes again and nothing is stored twice.
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sources SET cursor = NULL"))
    engine.dispose()
    again = run_once(settings, classifier)[0]
    assert again.new == 0 and again.duplicates == 5
    assert rows(db_url, "SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM detections)")[0] == counts


def test_feeds_over_http_with_failing_photos(server, sqlite_url, settings_for, classifier):
    base = server.url("")
    server.routes["/img/ok.jpg"] = Reply(body=jpeg(seed=1), content_type="image/jpeg")
    server.routes["/img/ok2.jpg"] = Reply(body=jpeg(seed=2), content_type="image/jpeg")
    server.routes["/img/page.jpg"] = Reply(body=b"<html>", content_type="text/html")
    server.routes["/img/big.jpg"] = Reply(body=b"x" * 3_000_000, content_type="image/jpeg")
    server.routes["/img/bad.jpg"] = Reply(body=b"GIF89a-broken", content_type="image/gif")
    rss = f"""<?xml version="1.0"?><rss version="2.0" xmlns:georss="http://www.georss.org/georss"><channel>
      <title>t</title>
      <item><guid>1</guid><pubDate>Mon, 02 Jan 2023 10:00:00 GMT</pubDate><georss:point>10 20</georss:point>
        <enclosure url="{base}/img/ok.jpg" type="image/jpeg"/></item>
      <item><guid>2</guid><pubDate>Mon, 02 Jan 2023 11:00:00 GMT</pubDate>
        <enclosure url="{base}/img/missing.jpg" type="image/jpeg"/>
        <enclosure url="{base}/img/page.jpg" type="image/jpeg"/></item>
      <item><guid>3</guid><pubDate>Mon, 02 Jan 2023 12:00:00 GMT</pubDate>
        <enclosure url="{base}/img/big.jpg" type="image/jpeg"/>
        <enclosure url="{base}/img/bad.jpg" type="image/jpeg"/></item>
    </channel></rss>"""
    server.routes["/feed"] = Reply(body=rss.encode(), content_type="application/rss+xml")
    server.routes["/api"] = Reply(
        body=json.dumps(
            {"items": [{"id": "j1", "img": "/img/ok2.jpg", "t": "2023-03-01T00:00:00Z", "views": 7}]}
        ).encode(),
        content_type="application/json",
    )
    server.routes["/broken-api"] = Reply(body=b"{oops", content_type="application/json")
    sources = [
        {"name": "feed", "kind": "rss", "url": server.url("/feed"), "allow_private": True},
        {
            "name": "broken",
            "kind": "json",
            "url": server.url("/broken-api"),
            "fields": {"image": "img"},
            "allow_private": True,
        },
        {
            "name": "api",
            "kind": "json",
            "url": server.url("/api"),
            "items": "items",
            "allow_private": True,
            "fields": {"image": "img", "id": "id", "time": "t", "reach": "views"},
        },
    ]
    settings = settings_for(sqlite_url, sources, ingest={"max_bytes": 1_000_000}, classifier={"thresholds": ALWAYS})
    summaries = by_name(run_once(settings, classifier))
    feed = summaries["feed"]
    assert feed.error is None and feed.new == 2 and feed.rejected == {"not_an_image": 1}
    assert feed.failures == {"http_404": 1, "bad_content_type": 1, "too_large": 1}
    assert "malformed JSON" in summaries["broken"].error
    assert summaries["api"].new == 1 and summaries["api"].detections == {"acme": 1, "globex": 1}
    failures = dict(rows(sqlite_url, "SELECT uri, reason FROM fetch_failures"))
    assert failures == {
        f"{base}/img/missing.jpg": "http_404",
        f"{base}/img/page.jpg": "bad_content_type",
        f"{base}/img/big.jpg": "too_large",
    }
    ok = rows(sqlite_url, "SELECT latitude, longitude, time_source FROM images WHERE uri = :u", u=f"{base}/img/ok.jpg")
    assert ok == [(10.0, 20.0, "source")]
    assert rows(sqlite_url, "SELECT reach FROM images WHERE external_id = 'j1'") == [(7,)]
    status = {
        name: (fails, error is not None)
        for name, fails, error in rows(sqlite_url, "SELECT name, consecutive_failures, last_error FROM sources")
    }
    assert status == {"feed": (0, False), "broken": (1, True), "api": (0, False)}
    # The cursor moved past every entry: a second pass fetches no photo again.
    hits = dict(server.hits)
    assert run_once(settings, classifier, ["feed"])[0].new == 0
    assert server.hits["/img/ok.jpg"] == hits["/img/ok.jpg"]


def test_a_photo_that_failed_for_a_passing_reason_is_fetched_again_on_later_polls(
    server, db_url, settings_for, classifier
):
    from monitor.errors import is_retryable

    base = server.url("")
    server.routes["/img/flaky.jpg"] = Reply(status=503, body=b"busy", content_type="text/plain")
    server.routes["/img/down.jpg"] = Reply(status=503, body=b"busy", content_type="text/plain")
    server.routes["/img/gone.jpg"] = Reply(status=404, body=b"no", content_type="text/plain")
    server.routes["/img/twin.jpg"] = Reply(status=503, body=b"busy", content_type="text/plain")
    server.routes["/img/late.jpg"] = Reply(status=503, body=b"busy", content_type="text/plain")
    items = "".join(
        f"<item><guid>{name}</guid><pubDate>Mon, 02 Jan 2023 1{i}:00:00 GMT</pubDate><georss:point>1{i} 2{i}"
        f'</georss:point><enclosure url="{base}/img/{name}.jpg" type="image/jpeg"/></item>'
        for i, name in enumerate(["flaky", "down", "gone", "twin", "late"])
    )
    server.routes["/feed"] = Reply(
        body=f'<?xml version="1.0"?><rss version="2.0" xmlns:georss='
        f'"http://www.georss.org/georss"><channel><title>t</title>{items}'
        f"</channel></rss>".encode(),
        content_type="application/rss+xml",
    )
    settings = settings_for(
        db_url,
        [{"name": "feed", "kind": "rss", "url": server.url("/feed"), "allow_private": True}],
        ingest={"refetch_attempts": 3, "refetch_after": 0.01},
        classifier={"thresholds": ALWAYS},
    )

    def failures() -> dict[str, tuple[str, int]]:
        return {
            uri.rsplit("/", 1)[1]: (reason, attempts)
            for uri, reason, attempts in rows(db_url, "SELECT uri, reason, attempts FROM fetch_failures")
        }

    assert run_once(settings, classifier)[0].new == 0
    first = failures()
    assert first["gone.jpg"] == ("http_404", 1) and first["flaky.jpg"][1] == first["down.jpg"][1] == 1
    assert is_retryable(first["flaky.jpg"][0]) and not is_retryable("http_404")

    server.routes["/img/flaky.jpg"] = Reply(body=jpeg(seed=4), content_type="image/jpeg")  # the server is back
    server.routes["/img/twin.jpg"] = Reply(body=jpeg(seed=4), content_type="image/jpeg")  # the same bytes
    second = run_once(settings, classifier)[0]
    assert second.new == 1 and second.duplicates == 1 and second.detections == {"acme": 1, "globex": 1}
    stored = rows(
        db_url,
        "SELECT external_id, latitude, longitude, time_source FROM images WHERE uri = :u",
        u=f"{base}/img/flaky.jpg",
    )
    assert stored == [(f"flaky|{base}/img/flaky.jpg", 10.0, 20.0, "source")]  # the feed's data survived
    assert set(failures()) == {"down.jpg", "gone.jpg", "late.jpg"} and failures()["down.jpg"][1] == 2

    server.routes["/img/late.jpg"] = Reply(body=jpeg(seed=4), content_type="image/jpeg")  # bytes stored already
    assert run_once(settings, classifier)[0].duplicates == 1  # the third and last try of down.jpg and late.jpg
    assert set(failures()) == {"down.jpg", "gone.jpg"}
    hits = dict(server.hits)
    assert run_once(settings, classifier)[0].new == 0
    assert failures()["down.jpg"][1] == 3 and server.hits["/img/down.jpg"] == hits["/img/down.jpg"]
    assert server.hits["/img/gone.jpg"] == 1 and server.hits["/img/flaky.jpg"] == 2
    assert rows(db_url, "SELECT count(*) FROM images")[0][0] == 1


def test_failing_source_backs_off_and_never_stops_the_others(sqlite_url, settings_for, classifier):
    settings = settings_for(
        sqlite_url,
        [
            {"name": "down", "kind": "fake", "fail": "upstream is down", "interval": 60},
            {"name": "up", "kind": "fake", "items": [{"id": "x", "color": [1, 200, 3]}]},
        ],
    )
    for _attempt in (1, 2):
        summaries = by_name(run_once(settings, classifier))
        assert "upstream is down" in summaries["down"].error and summaries["up"].error is None
    assert summaries["up"].new == 0  # stored on the first pass
    ((fails, error, last, next_try),) = rows(
        sqlite_url,
        "SELECT consecutive_failures, last_error, last_error_at, next_try_at FROM sources WHERE name = 'down'",
    )
    assert fails == 2 and "upstream is down" in error
    from datetime import datetime

    gap = datetime.fromisoformat(str(next_try)) - datetime.fromisoformat(str(last))
    assert 100 < gap.total_seconds() < 140  # interval 60 doubled after the second failure


def test_missing_model_bundle_refuses_with_how_to_train(tmp_path, sqlite_url, settings_for):
    settings = settings_for(
        sqlite_url, [{"name": "f", "kind": "fake"}], classifier={"model": str(tmp_path / "no-model")}
    )
    with pytest.raises(ModelUnavailable, match=r"no model bundle at .*no-model.*monitor .*train"):
        ingest_once(settings)
    (tmp_path / "broken-model").mkdir()
    (tmp_path / "broken-model" / "bundle.json").write_text("{not json")
    settings.classifier.model = tmp_path / "broken-model"
    with pytest.raises(ModelUnavailable, match=r"not usable"):
        ingest_once(settings)


def test_stop_request_commits_whole_batches_and_a_rerun_finishes(sqlite_url, settings_for, classifier):
    items = [{"id": f"p{i}", "data_base64": base64.b64encode(jpeg(seed=100 + i)).decode()} for i in range(40)]
    settings = settings_for(sqlite_url, [{"name": "fake", "kind": "fake", "items": items}], ingest={"batch_size": 4})
    stop = threading.Event()
    worker = threading.Thread(target=run_once, args=(settings, classifier, None, stop))
    worker.start()
    while worker.is_alive() and rows(sqlite_url, "SELECT count(*) FROM images")[0][0] == 0:
        time.sleep(0.01)
    stop.set()
    worker.join()
    stored = rows(sqlite_url, "SELECT count(*) FROM images")[0][0]
    cursor = rows(sqlite_url, "SELECT cursor FROM sources")[0][0]
    cursor = json.loads(cursor) if isinstance(cursor, str) else cursor
    assert stored % 4 == 0 and cursor["done"] == stored  # whole batches, cursor with the commit
    run_once(settings, classifier)
    assert rows(sqlite_url, "SELECT count(*), count(DISTINCT sha256) FROM images")[0] == (40, 40)


def test_thresholds_calibrated_for_other_scoring_are_a_warning_at_load(tmp_path, sqlite_url, settings_for, caplog):
    from classifier import LogoClassifier
    from monitor.config import TilingSettings
    from monitor.model import calibration_mismatch

    whole = {"training": {"tiling": None}}
    tiled = {"training": {"tiling": {"enabled": True, "grid": 3, "overlap": 0.25}}}
    assert calibration_mismatch(whole, TilingSettings(enabled=False)) is None
    assert calibration_mismatch(tiled, TilingSettings(enabled=True, grid=3, mode="crops")) is None
    assert calibration_mismatch({}, TilingSettings(enabled=True)) is None  # untrained or older bundles: unknown
    assert "more misses" in calibration_mismatch(tiled, TilingSettings(enabled=False))
    assert "tiled 3x3 scores, but classifier.tiling scores tiled 2x2" in calibration_mismatch(
        tiled, TilingSettings(enabled=True, grid=2, mode="crops")
    )
    assert "feature windows 3x3 at 1.5x" in calibration_mismatch(tiled, TilingSettings(enabled=True))
    assert calibration_mismatch(tiled, TilingSettings()) is None  # auto scores as the bundle was trained

    model = LogoClassifier.create(["Acme"], backbone="mobilenet_v1_025", weights="none", input_size=32)
    model.info = whole  # what train() records when it calibrated on whole photos
    model.save(tmp_path / "whole-photo-model")
    settings = settings_for(
        sqlite_url,
        [{"name": "f", "kind": "fake"}],
        classifier={"tiling": {"enabled": True, "grid": 3, "mode": "crops"}},
    )
    db = open_database(settings.database.url)
    try:
        with caplog.at_level("WARNING", logger="monitor.ingest"):
            load_model(settings, db, model)
    finally:
        db.dispose()
    assert (
        "calibrated on whole-photo scores, but classifier.tiling scores tiled 3x3: expect more false alarms"
        in caplog.text
    )


@pytest.mark.parametrize(
    "recorded",
    [
        None,
        {"enabled": True, "grid": 3, "overlap": 0.25},
        {"enabled": True, "grid": 2, "overlap": 0.25, "mode": "feature_windows", "scale": 2.0},
    ],
    ids=["whole", "crops", "windows"],
)
def test_by_default_photos_are_scored_as_the_bundle_was_trained(tmp_path, sqlite_url, settings_for, caplog, recorded):
    """classifier.tiling.enabled auto (the default): the daemon scores as the bundle's head was trained and its
    thresholds calibrated, whatever the other tiling keys say, without a mismatch warning; true/false override."""
    from classifier import LogoClassifier
    from classifier.tiling import Tiling

    model = LogoClassifier.create(["Acme"], backbone="mobilenet_v1_025", weights="none", input_size=32)
    model.info = {"training": {"tiling": recorded}}
    model.save(tmp_path / "model")
    loaded = {}
    for name, tiling in (("auto", {}), ("on", {"enabled": True}), ("off", {"enabled": False})):
        settings = settings_for(sqlite_url, [{"name": "f", "kind": "fake"}], classifier={"tiling": tiling})
        db = open_database(settings.database.url)
        try:
            caplog.clear()
            with caplog.at_level("WARNING", logger="monitor.ingest"):
                loaded[name] = load_model(settings, db, model).tiling
            warned = "expect more" in caplog.text
        finally:
            db.dispose()
        assert warned == (name != "auto" and loaded[name].as_dict() != recorded), (name, caplog.text)
    assert loaded["auto"].as_dict() == recorded
    assert loaded["on"] == Tiling(True, 3, 0.25, "feature_windows", 1.5)
    assert not loaded["off"].on
