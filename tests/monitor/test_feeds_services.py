"""Real-shaped feeds of photo services, served on 127.0.0.1 with photos behind every URL, ingested end to end.

Each test states the photos a person would count in its sample (with the feed's own time and place), checks
that exactly those are stored, and that a second poll stores and fetches nothing again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cli import run_cli
from feed_samples import Samples, exif_photo
from ingest_helpers import rows, run_once

UTC = UTC


def stored(url: str, samples: Samples) -> dict[str, tuple]:
    """Accepted photos by their sample URL -> (posted_at UTC, latitude, longitude, time_source)."""
    found = {}
    for uri, posted, lat, lon, source in rows(
        url, "SELECT uri, posted_at, latitude, longitude, time_source FROM images WHERE status = 'accepted'"
    ):
        moment = posted if isinstance(posted, datetime) else datetime.fromisoformat(str(posted))
        moment = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment  # naive is UTC
        found[uri.replace(samples.base + "/", "https://")] = (moment, lat, lon, source)
    return found


def ingest_twice(settings, classifier, sqlite_url, samples):
    """Run two passes; the second must store nothing and fetch no photo again. Returns the first summary."""
    first = run_once(settings, classifier)[0]
    assert first.error is None, first.error
    photos = {path: samples.server.hits.get(path, 0) for path in samples.photos}
    count = rows(sqlite_url, "SELECT count(*) FROM images")[0][0]
    second = run_once(settings, classifier)[0]
    assert second.error is None and second.new == 0 and second.duplicates == 0
    assert rows(sqlite_url, "SELECT count(*) FROM images")[0][0] == count
    assert {path: samples.server.hits.get(path, 0) for path in samples.photos} == photos
    return first


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)


def test_flickr_rest_json_epoch_text_times_and_zero_places(server, sqlite_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.pages(
        "/services/rest/",
        "page",
        {None: "flickr_page1.json", "1": "flickr_page1.json", "2": "flickr_page2.json"},
        "application/json",
    )
    settings = settings_for(
        sqlite_url,
        [
            {
                "name": "flickr",
                "preset": "flickr",
                "allow_private": True,
                "url": url + "?method=flickr.people.getPublicPhotos&format=json",
            }
        ],
    )
    first = ingest_twice(settings, classifier, sqlite_url, samples)
    places = {2: (52.516275, 13.377704), 5: (48.85837, 2.294481), 7: (40.689247, -74.044502), 9: (51.500729, -0.124625)}
    expected = {}
    for i in range(10):
        pid, secret = 53012345670 + i, f"a{i}b{i}c{i}d{i}e"
        name = f"{pid}_{secret}.jpg" if i == 4 else f"{pid}_{secret}_b.jpg"  # no url_l: the largest it gives
        moment = datetime.fromtimestamp(1383195989 + 3600 * i, UTC).replace(tzinfo=None)
        expected[f"https://live.staticflickr.com/65535/{name}"] = (moment, *places.get(i, (None, None)), "source")
    assert first.new == 10 and stored(sqlite_url, samples) == expected
    assert rows(sqlite_url, "SELECT reach FROM images WHERE external_id = '53012345679'") == [(19,)]


def test_mastodon_every_attachment_is_a_photo_videos_are_not(server, db_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.pages(
        "/api/v1/accounts/109302/statuses",
        "max_id",
        {None: "mastodon_page1.json", "110380000000000003": "mastodon_page2.json"},
        "application/json",
    )
    settings = settings_for(db_url, [{"name": "masto", "preset": "mastodon", "url": url, "allow_private": True}])
    first = ingest_twice(settings, classifier, db_url, samples)
    media = "https://files.mastodon.social/media_attachments/files/110/380"
    day = {1: 5, 2: 5, 3: 5, 4: 5, 6: 2, 8: 1, 9: 1}
    expected = {
        f"{media}/{i:03d}/original/{i:04x}c0ffee.{'png' if i == 9 else 'jpg'}": (
            datetime(2023, 5, d, 10),
            None,
            None,
            "source",
        )
        for i, d in day.items()
    }
    assert first.new == 7 and stored(db_url, samples) == expected
    ids = [r[0] for r in rows(db_url, "SELECT external_id FROM images WHERE external_id LIKE '%0005|%'")]
    assert len(ids) == len(set(ids)) == 4  # four photos of one post: stable, distinct ids
    assert set(rows(db_url, "SELECT reach, author FROM images")) == {(1520, "jane@photog.social")}


def test_reddit_listing_galleries_and_previews(server, sqlite_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.pages(
        "/r/cola/new.json", "after", {None: "reddit_page1.json", "t3_self01": "reddit_page2.json"}, "application/json"
    )
    settings = settings_for(sqlite_url, [{"name": "reddit", "preset": "reddit", "url": url, "allow_private": True}])
    first = ingest_twice(settings, classifier, sqlite_url, samples)
    gallery = datetime.fromtimestamp(1684000000, UTC).replace(tzinfo=None)
    expected = {
        f"https://preview.redd.it/g{i}media.jpg?width=1600&format=pjpg&auto=webp&s=bb{i}": (
            gallery,
            None,
            None,
            "source",
        )
        for i in (1, 2, 3)
    }
    for key, epoch in (("img001", 1683990000), ("img002", 1683970000)):
        expected[f"https://preview.redd.it/{key}.jpg?auto=webp&s=5f1e2d3c"] = (
            datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None),
            None,
            None,
            "source",
        )
    assert first.new == 5 and stored(sqlite_url, samples) == expected


def test_reddit_atom_one_photo_per_image_post(server, sqlite_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.feed("/r/cola/.rss", "reddit.atom", "application/atom+xml")
    settings = settings_for(sqlite_url, [{"name": "reddit-rss", "kind": "rss", "url": url, "allow_private": True}])
    first = ingest_twice(settings, classifier, sqlite_url, samples)
    assert first.new == 2 and stored(sqlite_url, samples) == {
        "https://b.thumbs.redditmedia.com/img001.jpg": (datetime(2023, 5, 13, 15), None, None, "source"),
        "https://b.thumbs.redditmedia.com/img002.jpg": (datetime(2023, 5, 13, 17), None, None, "source"),
    }


def test_tumblr_not_well_formed_is_read_with_a_warning_in_status(server, sqlite_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.feed("/rss", "tumblr.rss", "application/rss+xml")
    settings = settings_for(sqlite_url, [{"name": "tumblr", "kind": "rss", "url": url, "allow_private": True}])
    first = ingest_twice(settings, classifier, sqlite_url, samples)
    media = "https://64.media.tumblr.com"
    expected = {
        f"{media}/0a1b2c3d/tumblr_rb1x_1280.jpg": (t("2023-05-13T18:30:12-04:00"), None, None, "source"),
        f"{media}/9f8e7d6c/tumblr_rb1y_1280.jpg": (t("2023-05-13T18:30:12-04:00"), None, None, "source"),
        f"{media}/1234abcd/tumblr_rb2z_1280.jpg": (t("2023-05-13T19:00:00-04:00"), None, None, "source"),
        f"{media}/5555eeee/tumblr_rb3w_640.png": (t("2023-05-13T21:00:00-04:00"), None, None, "source"),
    }
    assert first.new == 4 and stored(sqlite_url, samples) == expected
    assert rows(sqlite_url, "SELECT caption FROM images WHERE uri LIKE '%rb1y%'") == [
        ("Can\u2019t stop photographing these",)
    ]
    ((failures, error),) = rows(sqlite_url, "SELECT consecutive_failures, last_error FROM sources")
    assert failures == 0 and error.startswith("warning: malformed feed") and "undefined entity" in error
    assert "warning: malformed feed" in run_cli("--config", settings.config_path, "status", check=True).output


def test_youtube_channel_thumbnails_not_players(server, sqlite_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.feed("/feeds/videos.xml", "youtube.atom", "application/atom+xml")
    settings = settings_for(sqlite_url, [{"name": "yt", "preset": "youtube", "url": url, "allow_private": True}])
    first = ingest_twice(settings, classifier, sqlite_url, samples)
    expected = {
        f"https://i{n}.ytimg.com/vi/vid0000000{n}/hqdefault.jpg": (t(when), None, None, "source")
        for n, when in (
            (1, "2023-05-10T16:00:08+00:00"),
            (2, "2023-05-12T16:00:01+00:00"),
            (3, "2023-05-14T09:30:00+00:00"),
        )
    }
    assert first.new == 3 and first.failures == {} and stored(sqlite_url, samples) == expected


def test_wordpress_georss_null_island_srcset_and_avatars(server, sqlite_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.feed("/feed/", "wordpress.rss", "application/rss+xml")
    settings = settings_for(sqlite_url, [{"name": "wp", "preset": "wordpress", "url": url, "allow_private": True}])
    first = ingest_twice(settings, classifier, sqlite_url, samples)
    up = "https://lakeside.example.org/wp-content/uploads/2023/05"
    expected = {
        f"{up}/picnic.jpg": (datetime(2023, 5, 10, 12), None, None, "source"),
        f"{up}/gate.jpg": (datetime(2023, 5, 11, 9, 30), 52.516275, 13.377704, "source"),
        f"{up}/kiosk-1024x683.jpg": (datetime(2023, 5, 11, 9, 30), 52.516275, 13.377704, "source"),
        "https://i0.wp.com/lakeside.example.org/wp-content/uploads/2023/05/boats.jpg?fit=1200%2C800&ssl=1": (
            datetime(2023, 5, 12, 17, 45),
            None,
            None,
            "source",
        ),
        f"{up}/crisps.jpg": (datetime(2023, 5, 13, 8), None, None, "source"),
    }
    assert first.new == 5 and stored(sqlite_url, samples) == expected


def test_wordpress_null_island_kept_when_the_source_says_it_is_real(server, sqlite_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.feed("/feed/", "wordpress.rss", "application/rss+xml")
    settings = settings_for(
        sqlite_url,
        [{"name": "wp", "preset": "wordpress", "url": url, "allow_private": True, "allow_null_island": True}],
    )
    run_once(settings, classifier)
    places = {
        uri.rsplit("/", 1)[-1]: (lat, lon)
        for uri, _, lat, lon, _ in ((u, *v) for u, v in stored(sqlite_url, samples).items())
    }
    assert places["picnic.jpg"] == (0.0, 0.0) and places["crisps.jpg"] == (None, None)


def test_json_feed_attachments_and_exif_places(server, sqlite_url, settings_for, classifier):
    samples = Samples(server)
    url = samples.feed("/feed.json", "jsonfeed.json", "application/feed+json")
    samples.photo("https://notes.example.net/media/lemon.jpg", exif_photo(1, (0.0, 0.0)))  # a camera's "no fix"
    samples.photo("https://notes.example.net/media/pier.jpg", exif_photo(2, (48.5, 2.25)))
    settings = settings_for(sqlite_url, [{"name": "notes", "kind": "jsonfeed", "url": url, "allow_private": True}])
    first = ingest_twice(settings, classifier, sqlite_url, samples)
    media = "https://notes.example.net/media"
    expected = {
        f"{media}/lemon.jpg": (t("2023-05-07T09:15:00-07:00"), None, None, "source"),
        f"{media}/pier.jpg": (t("2023-05-08T18:00:00+02:00"), 48.5, 2.25, "source"),
        f"{media}/tower.jpg": (t("2023-05-08T18:00:00+02:00"), None, None, "source"),
    }
    assert first.new == 3 and stored(sqlite_url, samples) == expected
    assert rows(sqlite_url, "SELECT author FROM images WHERE uri LIKE '%tower%'") == [("Robin",)]
