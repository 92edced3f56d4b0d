"""The parts real feeds need: decorations, srcset and size variants, escaped URLs, JSON paths and times,
presets, Null Island, and a not-well-formed feed with nothing usable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest_helpers import Reply
from monitor.config import SourceSettings
from monitor.errors import ConfigError, SourceError
from monitor.sources.base import SourceContext
from monitor.sources.clean import clean_place
from monitor.sources.html_images import Candidate, html_images, is_decoration, largest_once, unescape_url
from monitor.sources.jsonpath import parse_time_as, values_at
from monitor.sources.presets import PRESETS
from monitor.sources.registry import build_source, validate_options

UTC = UTC


@pytest.mark.parametrize(
    "url,css,width,height",
    [
        ("https://secure.gravatar.com/avatar/9a8b7c6d?s=48&d=identicon&r=G", "", None, None),
        ("https://0.gravatar.com/avatar/4f64c9f81bb0d4ee969aaf7b4a5a6f40?s=96", "", None, None),
        ("https://s.w.org/images/core/emoji/14.0.0/72x72/1f642.png", "", None, None),
        ("https://pixel.wp.com/b.gif?host=blog.example.org&blog=1", "", None, None),
        ("https://example.org/t.gif", "", 1, 1),
        ("https://example.org/me.jpg", "avatar avatar-96 photo", 96, 96),
        ("https://example.org/smile.png", "wp-smiley", None, None),
        ("https://64.media.tumblr.com/avatar_5e6f7a8b_64.pnj", "", 64, 64),
        ("https://files.mastodon.social/accounts/avatars/109/302/original/a1b2.png", "", None, None),
    ],
)
def test_decorations_are_recognised(url, css, width, height):
    assert is_decoration(Candidate(url, width, css, height))


@pytest.mark.parametrize(
    "url,css,width",
    [
        ("https://lakeside.example.org/wp-content/uploads/2023/05/picnic.jpg", "wp-image-102", 1024),
        ("https://64.media.tumblr.com/0a1b2c3d/tumblr_rb1x_1280.jpg", "", None),
        (
            "https://example.org/photos/iconic-avatarless.jpg",
            "wp-image-7 lexicon pixelated",
            640,
        ),  # words containing them
    ],
)
def test_photos_are_not_decorations(url, css, width):
    assert not is_decoration(Candidate(url, width, css))


def test_srcset_and_size_variants_give_the_largest_once():
    html = (
        '<img width="1024" src="https://b.example/up/p-1024x768.jpg" srcset="https://b.example/up/p-300x225.jpg '
        '300w, https://b.example/up/p.jpg 2048w, https://b.example/up/p-1024x768.jpg 1024w">'
        '<img src="https://b.example/up/p-768x576.jpg"><img src="https://b.example/up/q.jpg?w=300&amp;ssl=1">'
        '<img srcset="https://b.example/r@1x.jpg 1x, https://b.example/r@2x.jpg 2x">'
        '<img src="https://b.example/up/q.jpg?w=1200&ssl=1">'
    )
    assert largest_once(html_images(html)) == [
        "https://b.example/up/p.jpg",
        "https://b.example/up/q.jpg?w=1200&ssl=1",
        "https://b.example/r@2x.jpg",
    ]


def test_escaped_ampersands_are_undone():
    assert (
        unescape_url("https://i0.wp.com/x.jpg?fit=1200%2C800&amp;amp;ssl=1")
        == "https://i0.wp.com/x.jpg?fit=1200%2C800&ssl=1"
    )
    assert (
        unescape_url("https://preview.redd.it/a.jpg?width=1600&amp;s=bb")
        == "https://preview.redd.it/a.jpg?width=1600&s=bb"
    )
    assert unescape_url("https://x.example/a.jpg?q=1&b=2") == "https://x.example/a.jpg?q=1&b=2"


def test_json_paths_with_wildcards():
    item = {
        "media": [{"url": "a"}, {"url": "b"}, {"type": "none"}],
        "meta": {"x": {"s": {"u": "c"}}, "y": {"s": {"u": "d"}}},
    }
    assert values_at(item, "media[*].url") == ["a", "b"] == values_at(item, "media.*.url")
    assert values_at(item, "meta.*.s.u") == ["c", "d"]
    assert values_at(item, "media[1].url") == ["b"] == values_at(item, "media.-2.url")
    assert values_at(item, "media[7].url") == [] == values_at(item, "nothing[*].url")


@pytest.mark.parametrize(
    "value,time_format,expected",
    [
        ("1383195989", None, datetime(2013, 10, 31, 5, 6, 29, tzinfo=UTC)),
        (1383195989, None, datetime(2013, 10, 31, 5, 6, 29, tzinfo=UTC)),
        ("1383195989000", None, datetime(2013, 10, 31, 5, 6, 29, tzinfo=UTC)),
        (1383195989000, None, datetime(2013, 10, 31, 5, 6, 29, tzinfo=UTC)),
        (1684000000.5, None, datetime(2023, 5, 13, 17, 46, 40, 500000, tzinfo=UTC)),
        ("2023-05-05T10:00:00.000Z", None, datetime(2023, 5, 5, 10, tzinfo=UTC)),
        ("2023-05-07T09:15:00-07:00", None, datetime(2023, 5, 7, 16, 15, tzinfo=UTC)),
        ("04/03/2026 18:30", "%d/%m/%Y %H:%M", datetime(2026, 3, 4, 18, 30, tzinfo=UTC)),
        ("04/03/2026 18:30 +0100", "%d/%m/%Y %H:%M %z", datetime(2026, 3, 4, 17, 30, tzinfo=UTC)),
        ("2026-03-04T18:30:00Z", "%d/%m/%Y %H:%M", datetime(2026, 3, 4, 18, 30, tzinfo=UTC)),  # format misses: ISO
        ("yesterday", None, None),
    ],
)
def test_times_in_every_shape(value, time_format, expected):
    assert parse_time_as(value, time_format) == expected


def test_null_island_is_unknown_unless_the_source_says_it_is_real():
    assert clean_place(0, 0) == (None, None) == clean_place("0.000000", "0.000000")
    assert clean_place(0, 0, allow_null_island=True) == (0.0, 0.0)
    assert clean_place(0, 13.4) == (0.0, 13.4)
    assert clean_place(91, 0, allow_null_island=True) == (None, None)


def test_presets_fill_in_and_every_key_stays_overridable():
    source = SourceSettings(
        name="r",
        preset="reddit",
        url="https://www.reddit.com/r/x/new.json",
        fields={"reach": "data.score"},
        max_pages=3,
    )
    validate_options(source, "sources[0]")
    assert source.kind == "json" and source.options["max_pages"] == 3
    assert source.options["fields"]["reach"] == "data.score"
    assert source.options["fields"]["id"] == PRESETS["reddit"]["fields"]["id"]  # the rest of the map kept
    assert SourceSettings(name="y", preset="youtube", url="u", kind="rss").kind == "rss"
    for name in PRESETS:
        validate_options(SourceSettings(name=name, preset=name, url="https://example.org/"), "sources[0]")


def test_preset_mistakes_are_config_errors(tmp_path):
    from monitor.config import load_settings

    config = tmp_path / "config.yaml"
    config.write_text("sources:\n  - {name: a, preset: mastodn, url: 'https://m.example/'}\n")
    with pytest.raises(ConfigError, match=r"unknown preset 'mastodn'; did you mean 'mastodon'\?"):
        load_settings(config)
    config.write_text("sources:\n  - {name: a, preset: youtube, kind: json, url: 'https://m.example/'}\n")
    with pytest.raises(ConfigError, match=r"preset 'youtube' is a rss source; kind 'json' contradicts it"):
        load_settings(config)


def test_a_broken_feed_with_no_photo_to_recover_is_refused(server):
    server.routes["/feed"] = Reply(
        body=b'<?xml version="1.0"?><rss version="2.0"><channel><title>A &rsquo; B'
        b"</title><item><title>words only &hellip;</title></item></channel></rss>",
        content_type="application/rss+xml",
    )
    settings = SourceSettings(name="broken", kind="rss", url=server.url("/feed"), allow_private=True)
    source = build_source(settings, SourceContext())
    with pytest.raises(SourceError, match="malformed feed .*no entry with a photo could be read") as info:
        list(source.poll(None))
    assert info.value.reason == "malformed_feed"
