"""`rss` source: RSS and Atom feeds through feedparser; photos from media tags, enclosures and <img>.

Real feeds are often not well-formed: what feedparser recovers is kept (with a warning the status shows);
a feed is refused only when nothing usable came out of it."""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin

import feedparser
from pydantic import BaseModel

from monitor.errors import FetchError, SourceError
from monitor.fetch import FEED_TYPES
from monitor.sources.base import HttpOptions, HttpSource, ImageRef
from monitor.sources.html_images import Candidate, html_images, largest_once, not_a_picture, unescape_url
from monitor.sources.timeline import Entry, Timeline

log = logging.getLogger(__name__)
_BENIGN = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class RssOptions(HttpOptions):
    """Fields of an `rss` source."""

    html_images: bool = True  # also take <img> tags in the entry's HTML


class RssSource(HttpSource):
    """An RSS or Atom feed; the cursor is the newest entry time plus the ids seen at that time."""

    kind: ClassVar[str] = "rss"
    Options: ClassVar[type[BaseModel]] = RssOptions
    options: RssOptions

    def poll(self, cursor: dict[str, Any] | None) -> Iterator[ImageRef]:
        """Photos of entries newer than the cursor, oldest first."""
        feed = self._parse(self._download())
        base = self.options.url
        entries = []
        for item in feed.entries:
            try:
                urls = self._images(item, base)
            except ValueError as exc:  # a URL urljoin cannot parse: that entry only
                log.warning("source %s: entry skipped: %s", self.settings.name, exc)
                continue
            if urls:  # an item without guid, link or title is known by its first photo's URL
                entries.append(Entry(_entry_id(item) or urls[0], _entry_time(item), (item, urls)))
        self._recovered(feed, entries)
        for entry, before, after in Timeline.from_cursor(cursor).newer(entries):
            urls = entry.payload[1]
            for index, url in enumerate(urls):
                yield self._ref(entry, url, after if index == len(urls) - 1 else before)

    def _download(self) -> bytes:
        try:
            return self.fetcher.get(self.options.url, accept=FEED_TYPES).data
        except FetchError as exc:
            raise SourceError(f"source {self.settings.name!r}: {exc}", exc.reason) from None

    def _parse(self, data: bytes):
        # Not sanitized: the HTML is only read for <img> URLs (never shown), and sanitizing drops srcset.
        feed = feedparser.parse(data, sanitize_html=False)
        if not feed.get("version") and not feed.entries:
            raise SourceError(
                f"source {self.settings.name!r}: {self._problem(feed) or 'not an RSS or Atom feed'} "
                f"at {self.options.url}",
                "malformed_feed",
            )
        return feed

    def _problem(self, feed: Any) -> str | None:
        problem = feed.get("bozo_exception")
        return f"malformed feed ({problem})" if feed.get("bozo") and not isinstance(problem, _BENIGN) else None

    def _recovered(self, feed: Any, entries: list[Entry]) -> None:
        """A feed that is not well-formed: a warning when feedparser recovered photos, else refused."""
        problem = self._problem(feed)
        if problem is None:
            return
        if not entries:
            raise SourceError(
                f"source {self.settings.name!r}: {problem} at {self.options.url}: no entry with a photo could be read",
                "malformed_feed",
            )
        warning = f"{problem}; kept the {len(entries)} entries with photos that could be read"
        log.warning("source %s: %s", self.settings.name, warning)
        self.warnings.append(warning)

    def _images(self, entry: Any, base: str) -> list[str]:
        base = entry.get("link") or base
        media = [_candidate(m, "url") for m in entry.get("media_content") or [] if _is_picture(m)]
        found = [c for c in media if c is not None]
        if not largest_once(found):  # thumbnails are smaller copies of media:content: only alone (YouTube)
            thumbnails = [c for c in (_candidate(m, "url") for m in entry.get("media_thumbnail") or []) if c]
            found += _largest_thumbnail(thumbnails)
        for enclosure in entry.get("enclosures") or []:
            if _is_picture(enclosure, "href"):
                found.append(Candidate(unescape_url(enclosure["href"])))
        if self.options.html_images:
            for part in [*(entry.get("content") or []), {"value": entry.get("summary") or ""}]:
                found += html_images(part.get("value") or "")
        joined = [Candidate(urljoin(base, c.url), c.width, c.css_class, c.height) for c in found if c.url]
        return largest_once(joined)

    def _ref(self, entry: Entry, url: str, cursor: dict[str, Any]) -> ImageRef:
        item = entry.payload[0]
        lat, lon = _point(item)
        return ImageRef(
            uri=url,
            external_id=f"{entry.id}|{url}",
            posted_at=entry.posted,
            latitude=lat,
            longitude=lon,
            place=item.get("georss_featurename") or None,
            caption=item.get("title") or None,
            author=item.get("author") or None,
            cursor=cursor,
        )


def _is_picture(media: Any, key: str = "url") -> bool:
    """A media tag or enclosure that is a picture: by its medium, else its type, else the URL (else the bytes)."""
    url = str(media.get(key) or "")
    medium, kind = str(media.get("medium") or "").lower(), str(media.get("type") or "").lower()
    if not url.strip():
        return False
    if medium:
        return medium == "image"
    if kind:
        return kind.startswith("image/")
    return not not_a_picture(url)


def _candidate(media: Any, key: str) -> Candidate | None:
    url = str(media.get(key) or "").strip()
    if not url:
        return None
    return Candidate(unescape_url(url), _pixels(media.get("width")), "", _pixels(media.get("height")))


def _largest_thumbnail(thumbnails: list[Candidate]) -> list[Candidate]:
    """The largest thumbnail (several are sizes of one picture), or none."""
    kept = [c for c in thumbnails if largest_once([c])]
    return [max(kept, key=lambda c: c.width or 0)] if kept else []


def _pixels(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def _entry_id(entry: Any) -> str:
    return str(entry.get("id") or entry.get("link") or entry.get("title") or "")


def _entry_time(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _point(entry: Any) -> tuple[float | None, float | None]:
    where = entry.get("where") or {}
    coordinates = where.get("coordinates") if where.get("type") == "Point" else None
    try:
        lon, lat = float(coordinates[0]), float(coordinates[1])
    except (TypeError, ValueError, IndexError):
        return None, None
    return lat, lon  # range and the 0,0 "no place" are clean_ref's (it knows allow_null_island)
