"""Source kinds polled directly: folder (sidecars, CSV, incremental state), RSS/Atom and JSON over real HTTP."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from ingest_helpers import Reply, jpeg
from monitor.config import SourceSettings
from monitor.errors import ConfigError, SourceError
from monitor.sources.base import SourceContext
from monitor.sources.registry import build_source, kind_names, kinds, validate_options


def source(kind: str, tmp_path=None, **fields):
    settings = SourceSettings(name=f"test-{kind}", kind=kind, allow_private=fields.pop("allow_private", True), **fields)
    return build_source(settings, SourceContext(cache_dir=tmp_path / "cache" if tmp_path else None))


def poll_all(src, cursor=None, commit=True):
    refs = list(src.poll(cursor))
    if commit:
        src.committed(refs)
    return refs


def test_every_kind_is_registered_and_options_are_strict():
    assert {"folder", "rss", "json", "fake"} <= set(kinds())
    with pytest.raises(ConfigError, match=r"sources\[0\]\.pattern: unknown key .*did you mean 'patterns'"):
        validate_options(SourceSettings(name="x", kind="folder", path="/tmp", pattern=["*.jpg"]), "sources[0]")
    with pytest.raises(ConfigError, match=r"fields"):
        validate_options(SourceSettings(name="x", kind="json", url="http://x/"), "sources[0]")


_PLUGIN = """
from typing import ClassVar
from pydantic import BaseModel, ConfigDict
from monitor.sources.base import ImageRef, Source


class StubOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 2


class StubSource(Source):
    kind: ClassVar[str] = "stub"
    Options: ClassVar[type[BaseModel]] = StubOptions

    def poll(self, cursor):
        done = (cursor or {}).get("done", 0)
        for n in range(done, self.options.count):
            yield ImageRef(uri=f"stub://{n}", external_id=str(n), cursor={"done": n + 1}, data=b"x")


class NotASource:
    pass
"""


def test_a_third_party_kind_registers_through_a_real_entry_point(tmp_path, monkeypatch):
    (tmp_path / "stub_monitor_plugin.py").write_text(_PLUGIN)
    info = tmp_path / "stub_monitor_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stub-monitor-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[brand_monitor.sources]\nstub = stub_monitor_plugin:StubSource\n"
        "wrong = stub_monitor_plugin:NotASource\n"
        "gone = stub_monitor_plugin_missing:Source\n"
    )
    with pytest.raises(ConfigError, match="unknown source kind 'stub'"):
        validate_options(SourceSettings(name="s", kind="stub"), "sources[0]")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert {"fake", "folder", "json", "rss", "stub"} <= set(kind_names())
    validate_options(SourceSettings(name="s", kind="stub", count=3), "sources[0]")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.cont: unknown key .*did you mean 'count'"):
        validate_options(SourceSettings(name="s", kind="stub", cont=3), "sources[0]")
    src = build_source(SourceSettings(name="s", kind="stub", count=3))
    assert [r.external_id for r in src.poll({"done": 1})] == ["1", "2"]
    src.committed([]), src.close()  # the base class's no-op hooks
    with pytest.raises(ConfigError, match="'wrong' .*not a monitor.sources.base.Source subclass"):
        validate_options(SourceSettings(name="s", kind="wrong"), "sources[0]")
    with pytest.raises(ConfigError, match="'gone' .*cannot be loaded: ModuleNotFoundError"):
        validate_options(SourceSettings(name="s", kind="gone"), "sources[0]")


# -- folder ---------------------------------------------------------------------------------------
def test_folder_reads_sidecars_csv_patterns_and_subfolders(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "a.jpg").write_bytes(jpeg())
    (inbox / "B.JPG").write_bytes(jpeg())
    (inbox / "sub" / "c.png").write_bytes(b"png?")
    (inbox / "notes.txt").write_text("not a photo")
    (inbox / ".partial.jpg").write_bytes(b"being written")
    (inbox / "a.jpg.json").write_text(
        json.dumps(
            {
                "posted_at": "2024-05-01T10:00:00",
                "latitude": 48.85,
                "longitude": 2.35,
                "place": "Paris",
                "caption": "new bag",
                "reach": 1200,
                "author": "ana",
            }
        )
    )
    (inbox / "meta.csv").write_text(
        "file,posted_at,latitude,longitude,place,caption,reach,author\nB.JPG,2024-05-02T08:00:00+02:00,,,Lyon,,50,bo\n"
    )
    refs = {r.external_id: r for r in poll_all(source("folder", tmp_path, path=str(inbox), metadata_csv="meta.csv"))}
    assert set(refs) == {"a.jpg", "B.JPG", "sub/c.png"}
    a = refs["a.jpg"]
    assert a.posted_at == datetime(2024, 5, 1, 10, tzinfo=UTC)  # naive means UTC
    assert (a.latitude, a.longitude, a.place, a.caption, a.reach, a.author) == (
        48.85,
        2.35,
        "Paris",
        "new bag",
        1200,
        "ana",
    )
    b = refs["B.JPG"]
    assert b.posted_at == datetime(2024, 5, 2, 6, tzinfo=UTC) and b.place == "Lyon" and b.reach == 50
    assert b.latitude is None and refs["sub/c.png"].posted_at is None
    flat = poll_all(source("folder", tmp_path / "flat", path=str(inbox), recursive=False, patterns=["*.PNG", "*.jpg"]))
    assert {r.external_id for r in flat} == {"a.jpg", "B.JPG"}


def test_folder_skips_unchanged_files_once_committed_and_sees_changes(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(5):
        (inbox / f"p{i}.jpg").write_bytes(jpeg(seed=i))
    src = source("folder", tmp_path, path=str(inbox))
    first = list(src.poll(None))
    cursor = first[-1].cursor
    assert len(first) == 5 and set(cursor) == {"state"}
    assert len(list(src.poll(cursor))) == 5  # nothing committed yet: all still pending
    src.committed(first[:3])
    assert sorted(r.external_id for r in src.poll(cursor)) == ["p3.jpg", "p4.jpg"]
    src.committed(first[3:])
    assert list(src.poll(cursor)) == []
    (inbox / "p1.jpg").write_bytes(jpeg(seed=99))  # changed bytes (size or mtime differ)
    os.utime(inbox / "p1.jpg", ns=(1, 1))
    (inbox / "new.jpg").write_bytes(jpeg(seed=100))
    assert sorted(r.external_id for r in poll_all(src, cursor)) == ["new.jpg", "p1.jpg"]
    # A fresh source object (a restarted process) with the committed cursor sees nothing new.
    again = source("folder", tmp_path, path=str(inbox))
    assert list(again.poll(cursor)) == []
    # A cursor the state does not know (a wiped database) means a full rescan.
    assert len(list(again.poll(None))) == 6


def test_folder_settle_time_waits_for_a_late_sidecar(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    old, fresh = inbox / "old.jpg", inbox / "fresh.jpg"
    old.write_bytes(jpeg(seed=1))
    fresh.write_bytes(jpeg(seed=2))
    past = (datetime.now().timestamp() - 60) * 1e9
    os.utime(old, ns=(int(past), int(past)))
    src = source("folder", tmp_path, path=str(inbox), settle_seconds=30)
    first = poll_all(src)
    assert [r.external_id for r in first] == ["old.jpg"]  # fresh.jpg may still be being written
    # Its sidecar arrives later; once both have settled the photo is read with the metadata.
    sidecar = inbox / "fresh.jpg.json"
    sidecar.write_text(json.dumps({"place": "Oslo"}))
    assert poll_all(src, first[-1].cursor) == []  # the sidecar itself is too fresh now
    for path in (fresh, sidecar):
        os.utime(path, ns=(int(past), int(past)))
    later = poll_all(src, first[-1].cursor)
    assert [(r.external_id, r.place) for r in later] == [("fresh.jpg", "Oslo")]


def test_folder_cursor_stays_small(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = jpeg()
    for i in range(300):
        (inbox / f"p{i:04d}.jpg").write_bytes(data)
    refs = poll_all(source("folder", tmp_path, path=str(inbox)))
    assert len(refs) == 300 and len(json.dumps(refs[-1].cursor)) < 100


def test_missing_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        list(source("folder", tmp_path, path=str(tmp_path / "nope")).poll(None))


# -- RSS and Atom ---------------------------------------------------------------------------------
RSS = """<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:georss="http://www.georss.org/georss"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>brand photos</title><link>{base}/</link>
<item><title>first</title><link>{base}/post/1</link><guid>id-1</guid>
  <pubDate>Mon, 02 Jan 2023 10:00:00 GMT</pubDate>
  <media:content url="{base}/img/1.jpg" medium="image" type="image/jpeg"/>
  <media:thumbnail url="{base}/img/1-small.jpg"/>
  <georss:point>45.5 -73.6</georss:point><dc:creator>bob</dc:creator></item>
<item><title>second</title><link>{base}/post/2</link><guid>id-2</guid>
  <pubDate>Tue, 03 Jan 2023 10:00:00 GMT</pubDate>
  <enclosure url="{base}/img/2.png" type="image/png" length="10"/>
  <enclosure url="{base}/audio.mp3" type="audio/mpeg" length="10"/>
  <description>&lt;p&gt;look &lt;img src="/img/3.jpg"&gt;&lt;/p&gt;</description></item>
<item><title>thumb only</title><link>{base}/post/4</link><guid>id-4</guid>
  <pubDate>Tue, 03 Jan 2023 10:00:00 GMT</pubDate>
  <media:thumbnail url="{base}/img/4.jpg"/></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:georss="http://www.georss.org/georss">
<title>atom photos</title><id>urn:feed</id><updated>2023-01-05T00:00:00Z</updated>
<entry><id>urn:e1</id><title>entry one</title><updated>2023-01-05T00:00:00Z</updated>
  <published>2023-01-04T05:00:00+02:00</published><author><name>al</name></author>
  <link href="{base}/e1"/><link rel="enclosure" type="image/jpeg" href="{base}/img/e1.jpg"/>
  <content type="html">&lt;img src="{base}/img/e1-inline.jpg"/&gt;</content>
  <georss:point>1.5 2.5</georss:point></entry>
</feed>"""


def test_rss_items_give_media_enclosures_and_inline_images(server):
    base = server.url("")
    server.routes["/feed.xml"] = Reply(body=RSS.format(base=base).encode(), content_type="application/rss+xml")
    refs = list(source("rss", url=server.url("/feed.xml")).poll(None))
    assert [r.uri.removeprefix(base) for r in refs] == ["/img/1.jpg", "/img/2.png", "/img/3.jpg", "/img/4.jpg"]
    first = refs[0]
    assert first.posted_at == datetime(2023, 1, 2, 10, tzinfo=UTC)
    assert (first.latitude, first.longitude, first.author, first.caption) == (45.5, -73.6, "bob", "first")
    assert first.external_id == f"id-1|{base}/img/1.jpg"
    # Only the last photo of an entry carries the cursor past that entry.
    assert refs[1].cursor == refs[0].cursor and refs[2].cursor["ids"] == ["id-2"]
    final = refs[-1].cursor
    assert final["time"].startswith("2023-01-03T10:00:00") and sorted(final["ids"]) == ["id-2", "id-4"]
    assert list(source("rss", url=server.url("/feed.xml")).poll(final)) == []


def test_rss_cursor_after_a_partial_commit_yields_the_rest(server):
    base = server.url("")
    server.routes["/feed.xml"] = Reply(body=RSS.format(base=base).encode(), content_type="application/rss+xml")
    src = source("rss", url=server.url("/feed.xml"))
    refs = list(src.poll(None))
    rest = list(src.poll(refs[1].cursor))  # committed up to the middle of entry id-2
    assert [r.uri.removeprefix(base) for r in rest] == ["/img/2.png", "/img/3.jpg", "/img/4.jpg"]


def test_atom_entry(server):
    base = server.url("")
    server.routes["/atom"] = Reply(body=ATOM.format(base=base).encode(), content_type="application/atom+xml")
    refs = list(source("rss", url=server.url("/atom")).poll(None))
    assert [r.uri.removeprefix(base) for r in refs] == ["/img/e1.jpg", "/img/e1-inline.jpg"]
    assert refs[0].posted_at == datetime(2023, 1, 4, 3, tzinfo=UTC)
    assert (refs[0].latitude, refs[0].longitude, refs[0].author) == (1.5, 2.5, "al")


@pytest.mark.parametrize(
    "body,content_type,reason",
    [
        (b"<rss><channel><item><title>broken</ti", "application/rss+xml", "malformed_feed"),
        (b"this is not xml at all", "text/plain", "malformed_feed"),
        (jpeg(), "image/jpeg", "bad_content_type"),
    ],
)
def test_bad_feeds_are_source_errors(server, body, content_type, reason):
    server.routes["/bad"] = Reply(body=body, content_type=content_type)
    with pytest.raises(SourceError) as info:
        list(source("rss", url=server.url("/bad")).poll(None))
    assert info.value.reason == reason and "test-rss" in str(info.value)


def test_feed_http_errors_and_private_addresses_are_source_errors(server):
    server.routes["/gone"] = Reply(410, b"gone", "text/plain")
    with pytest.raises(SourceError) as info:
        list(source("rss", url=server.url("/gone")).poll(None))
    assert info.value.reason == "http_410"
    with pytest.raises(SourceError) as info:
        list(source("rss", url=server.url("/gone"), allow_private=False).poll(None))
    assert info.value.reason == "private_address"


# -- JSON API -------------------------------------------------------------------------------------
def _json_pages(server, style: str) -> None:
    items = [
        {
            "id": f"p{i}",
            "media": {"url": f"/img/{i}.jpg"},
            "created": f"2023-02-0{i + 1}T12:00:00Z",
            "geo": {"lat": 10 + i, "lon": 20 + i},
            "where": "Berlin",
            "text": f"photo {i}",
            "stats": {"views": 100 * i},
            "user": {"name": f"u{i}"},
        }
        for i in range(5)
    ]
    items.append({"id": "no-image", "created": "2023-02-09T00:00:00Z"})
    pages = [items[:2], items[2:4], items[4:]]
    for n, page in enumerate(pages):
        if style == "next":
            body = {"data": {"items": page}, "paging": {"next": f"/api?page={n + 1}" if n + 1 < len(pages) else None}}
            server.routes[f"/api?page={n}" if n else "/api"] = Reply(
                body=json.dumps(body).encode(), content_type="application/json"
            )
        else:
            body = {"data": {"items": page}, "cursor": f"c{n + 1}" if n + 1 < len(pages) else ""}
            server.routes[f"/api?after=c{n}" if n else "/api"] = Reply(
                body=json.dumps(body).encode(), content_type="application/json"
            )


FIELDS = {
    "image": "media.url",
    "id": "id",
    "time": "created",
    "latitude": "geo.lat",
    "longitude": "geo.lon",
    "place": "where",
    "caption": "text",
    "reach": "stats.views",
    "author": "user.name",
}


@pytest.mark.parametrize("style", ["next", "cursor"])
def test_json_pages_and_field_mapping(server, style):
    _json_pages(server, style)
    paging = {"next_url": "paging.next"} if style == "next" else {"cursor_path": "cursor", "cursor_param": "after"}
    src = source("json", url=server.url("/api"), items="data.items", fields=FIELDS, **paging)
    refs = list(src.poll(None))
    assert [r.external_id for r in refs] == ["p0", "p1", "p2", "p3", "p4"]
    third = refs[2]
    assert third.uri == server.url("/img/2.jpg") and third.posted_at == datetime(2023, 2, 3, 12, tzinfo=UTC)
    assert (third.latitude, third.longitude, third.place, third.caption, third.reach, third.author) == (
        12.0,
        22.0,
        "Berlin",
        "photo 2",
        200,
        "u2",
    )
    assert list(src.poll(refs[-1].cursor)) == []
    assert [r.external_id for r in src.poll(refs[2].cursor)] == ["p3", "p4"]


def test_json_headers_are_sent(server):
    seen = {}

    def reply(handler):
        seen["auth"] = handler.headers.get("Authorization")
        return Reply(body=b"[]", content_type="application/json")

    server.routes["/api"] = reply
    list(
        source("json", url=server.url("/api"), headers={"Authorization": "Bearer t0k"}, fields={"image": "u"}).poll(
            None
        )
    )
    assert seen["auth"] == "Bearer t0k"


@pytest.mark.parametrize(
    "body,content_type,reason",
    [
        (b"{not json", "application/json", "malformed_json"),
        (b'{"data": {"items": "nope"}}', "application/json", "bad_response"),
        (b"<html></html>", "text/html", "bad_content_type"),
    ],
)
def test_bad_json_is_a_source_error(server, body, content_type, reason):
    server.routes["/api"] = Reply(body=body, content_type=content_type)
    with pytest.raises(SourceError) as info:
        list(source("json", url=server.url("/api"), items="data.items", fields={"image": "u"}).poll(None))
    assert info.value.reason == reason


# -- fake -----------------------------------------------------------------------------------------
def test_fake_source_yields_its_items_after_the_cursor():
    src = source("fake", items=[{"id": "a"}, {"id": "b", "color": [1, 2, 3]}, {"id": "c", "data_base64": "AAEC"}])
    refs = list(src.poll(None))
    assert [r.external_id for r in refs] == ["a", "b", "c"] and refs[2].data == b"\x00\x01\x02"
    assert refs[0].data[:2] == b"\xff\xd8"
    assert [r.external_id for r in src.poll(refs[0].cursor)] == ["b", "c"]
    with pytest.raises(SourceError, match="boom"):
        list(source("fake", fail="boom").poll(None))


def test_a_cursor_already_dated_in_the_future_starts_over():
    from monitor.sources.timeline import Entry, Timeline

    today = datetime.now(UTC).replace(microsecond=0)
    entries = [Entry("a", today), Entry("b", None), Entry("c", datetime(2099, 1, 1, tzinfo=UTC))]
    poisoned = Timeline.from_cursor({"time": "2099-01-01T00:00:00+00:00", "ids": ["x"]})
    assert [e.id for e, _before, _after in poisoned.newer(entries)] == ["b", "c", "a"]
    assert datetime.fromisoformat(poisoned.cursor()["time"]) == today  # the 2099 entry never moves the cursor
