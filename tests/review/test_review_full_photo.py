"""Full photos at http(s) addresses: read through the source's fetcher and its guards, else the thumbnail."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import Feed, plant_feed

from ingest_helpers import FeedServer, Reply
from monitor.config import load_settings
from monitor.review.server import start_server
from monitor.review.session import ReviewSession
from monitor.review.transfer import export_judgments
from monitor.sources.readers import Readers
from storage.judgments import Verdict, photo, save_judgments


@pytest.fixture
def web() -> FeedServer:
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def web_feed(sqlite_url: str, tmp_path: Path, web: FeedServer) -> Feed:
    """Photos stored with http://127.0.0.1 addresses, served by a real server (photo 2's bytes changed since)."""
    feed = plant_feed(sqlite_url, tmp_path / "photos", photos=12, seed=5, prevalence=0.4, base_uri=web.url("/p/"))
    for image_id in feed.truth:
        data = (feed.folder / f"photo-{image_id}.jpg").read_bytes()
        web.routes[f"/p/photo-{image_id}.jpg"] = Reply(200, data if image_id != 2 else data + b"!", "image/jpeg")
    yield feed
    feed.db.dispose()


def readers_for(feed: Feed, web: FeedServer, tmp_path: Path, allow_private: bool) -> Readers:
    """The sources' readers of a config whose source 'inbox' (the photos' source) is an RSS feed on the server."""
    source = {"name": "inbox", "kind": "rss", "url": web.url("/feed.xml"), "allow_private": allow_private}
    path = tmp_path / f"config-{allow_private}.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": feed.url}, "sources": [source]}), encoding="utf-8")
    return Readers(load_settings(path))


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers["Content-Type"]


def test_the_page_shows_the_full_photo_fetched_over_http_and_falls_back_to_the_thumbnail(
    web_feed: Feed, web: FeedServer, tmp_path: Path
) -> None:
    readers = readers_for(web_feed, web, tmp_path, allow_private=True)
    session = ReviewSession(web_feed.db, judged_by="tester", readers=readers)
    server = start_server(session, None, 0, None)
    try:
        ids = [p.image_id for p in session.queue]
        assert 2 in ids and len(ids) == 12
        status, page, _ = get(server.url)
        assert status == 200 and f"/photo/{session.queue[0].image_id}/full".encode() in page
        for image_id in ids:
            status, body, kind = get(server.url + f"photo/{image_id}/full")
            thumbnail = photo(web_feed.db, image_id)["jpeg"]
            if image_id != 2:  # the photo itself, fetched from its address
                assert (status, kind) == (200, "image/jpeg")
                assert body == (web_feed.folder / f"photo-{image_id}.jpg").read_bytes()
            elif thumbnail:  # changed bytes at the address are another photo now: the stored thumbnail
                assert (status, body) == (200, thumbnail)
            else:
                assert status == 404
            assert web.hits[f"/p/photo-{image_id}.jpg"] == 1
    finally:
        server.shutdown()
        readers.close()


def test_the_sources_address_policy_still_applies(web_feed: Feed, web: FeedServer, tmp_path: Path) -> None:
    readers = readers_for(web_feed, web, tmp_path, allow_private=False)  # 127.0.0.1 is internal: refused
    session = ReviewSession(web_feed.db, judged_by="tester", readers=readers)
    try:
        for entry in session.queue:
            found = session.image(entry.image_id, full=True)
            thumbnail = photo(web_feed.db, entry.image_id)["jpeg"]
            assert found == ((thumbnail, "image/jpeg") if thumbnail else None)
        assert web.hits == {}  # refused before connecting
    finally:
        readers.close()


def test_export_writes_the_full_photos_read_over_http(web_feed: Feed, web: FeedServer, tmp_path: Path) -> None:
    readers = readers_for(web_feed, web, tmp_path, allow_private=True)
    verdicts = [Verdict(i, b, web_feed.truth[i][b]) for i in web_feed.truth for b in web_feed.truth[i]]
    save_judgments(web_feed.db, 1, verdicts, "sample", "tester")
    try:
        result = export_judgments(web_feed.db, tmp_path / "export", readers=readers)
    finally:
        readers.close()
    thumbnail = photo(web_feed.db, 2)["jpeg"]
    assert (result.from_thumbnail, result.unreadable) == ((1, []) if thumbnail else (0, [web_feed.sha[2]]))
    for path in (tmp_path / "export").rglob("*.jpg"):
        image_id = next(i for i, sha in web_feed.sha.items() if sha == path.stem)
        expected = thumbnail if image_id == 2 else (web_feed.folder / f"photo-{image_id}.jpg").read_bytes()
        assert path.read_bytes() == expected
