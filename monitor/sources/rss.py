"""`rss` source: RSS and Atom feeds through feedparser; photos from media tags, enclosures and <img>."""

from __future__ import annotations

import calendar
import logging
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any, ClassVar, Iterator, Optional
from urllib.parse import urljoin

import feedparser
from pydantic import BaseModel

from monitor.errors import FetchError, SourceError
from monitor.fetch import FEED_TYPES
from monitor.sources.base import HttpOptions, HttpSource, ImageRef
from monitor.sources.timeline import Entry, Timeline

log = logging.getLogger(__name__)
_BENIGN = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class RssOptions(HttpOptions):
    """Fields of an `rss` source."""

    html_images: bool = True  # also take <img> tags in the entry's HTML


class _ImgTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src and not src.startswith("data:"):
                self.sources.append(src)


def html_images(html: str) -> list[str]:
    """The src of every <img> in an HTML fragment."""
    parser = _ImgTags()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; anything it still chokes on has no usable images
        pass
    return parser.sources


class RssSource(HttpSource):
    """An RSS or Atom feed; the cursor is the newest entry time plus the ids seen at that time."""

    kind: ClassVar[str] = "rss"
    Options: ClassVar[type[BaseModel]] = RssOptions
    options: RssOptions

    def poll(self, cursor: Optional[dict[str, Any]]) -> Iterator[ImageRef]:
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
        feed = feedparser.parse(data)
        problem = feed.get("bozo_exception")
        if feed.get("bozo") and not isinstance(problem, _BENIGN):
            raise SourceError(f"source {self.settings.name!r}: malformed feed at {self.options.url}: {problem}",
                              "malformed_feed")
        if not feed.get("version") and not feed.entries:
            raise SourceError(f"source {self.settings.name!r}: {self.options.url} is not an RSS or Atom feed",
                              "malformed_feed")
        return feed

    def _images(self, entry: Any, base: str) -> list[str]:
        base = entry.get("link") or base
        found: list[str] = []
        for media in entry.get("media_content") or []:
            if media.get("url") and (media.get("medium") in (None, "image")
                                     or str(media.get("type", "")).startswith("image/")):
                found.append(media["url"])
        if not found:  # thumbnails are smaller copies of media:content; only take them alone
            found += [m["url"] for m in entry.get("media_thumbnail") or [] if m.get("url")]
        for enclosure in entry.get("enclosures") or []:
            if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
                found.append(enclosure["href"])
        if self.options.html_images:
            for part in [*(entry.get("content") or []), {"value": entry.get("summary") or ""}]:
                found += html_images(part.get("value") or "")
        return list(dict.fromkeys(urljoin(base, url.strip()) for url in found if url and url.strip()))

    def _ref(self, entry: Entry, url: str, cursor: dict[str, Any]) -> ImageRef:
        item = entry.payload[0]
        lat, lon = _point(item)
        return ImageRef(uri=url, external_id=f"{entry.id}|{url}", posted_at=entry.posted, latitude=lat,
                        longitude=lon, place=item.get("georss_featurename") or None,
                        caption=item.get("title") or None, author=item.get("author") or None,
                        cursor=cursor)


def _entry_id(entry: Any) -> str:
    return str(entry.get("id") or entry.get("link") or entry.get("title") or "")


def _entry_time(entry: Any) -> Optional[datetime]:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def _point(entry: Any) -> tuple[Optional[float], Optional[float]]:
    where = entry.get("where") or {}
    coordinates = where.get("coordinates") if where.get("type") == "Point" else None
    try:
        lon, lat = float(coordinates[0]), float(coordinates[1])
    except (TypeError, ValueError, IndexError):
        return None, None
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else (None, None)
