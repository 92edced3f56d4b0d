"""`json` source: a JSON API with pagination and a field mapping given as dotted paths."""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar, Iterator, Optional
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from monitor.errors import FetchError, SourceError
from monitor.fetch import JSON_TYPES
from monitor.sources.base import HttpOptions, HttpSource, ImageRef, as_float, as_int, as_text
from monitor.sources.timeline import Entry, Timeline, dotted, parse_time

log = logging.getLogger(__name__)


class FieldMap(BaseModel):
    """Dotted paths inside one item to each field the monitor stores."""

    model_config = ConfigDict(extra="forbid")

    image: str
    id: Optional[str] = None
    time: Optional[str] = None
    latitude: Optional[str] = None
    longitude: Optional[str] = None
    place: Optional[str] = None
    caption: Optional[str] = None
    reach: Optional[str] = None
    author: Optional[str] = None


class JsonOptions(HttpOptions):
    """Fields of a `json` source."""

    items: str = ""  # dotted path to the list of items ("" = the response is the list)
    fields: FieldMap
    next_url: Optional[str] = None  # dotted path to the next page's URL
    cursor_path: Optional[str] = None  # dotted path to the next page's cursor value ...
    cursor_param: Optional[str] = None  # ... sent back as this query parameter
    max_pages: int = Field(default=50, ge=1, le=10_000)


class JsonSource(HttpSource):
    """A JSON API; every page is read, then items newer than the cursor are yielded oldest first."""

    kind: ClassVar[str] = "json"
    Options: ClassVar[type[BaseModel]] = JsonOptions
    options: JsonOptions

    def poll(self, cursor: Optional[dict[str, Any]]) -> Iterator[ImageRef]:
        """Items newer than the cursor across every page, oldest first."""
        entries = []
        for item, page_url in self._items():
            try:
                entry = self._entry(item, page_url)
            except ValueError as exc:  # e.g. an image URL urljoin cannot parse: that item only
                log.warning("source %s: item skipped: %s", self.settings.name, exc)
                continue
            if entry is not None:
                entries.append(entry)
        for entry, _before, after in Timeline.from_cursor(cursor).newer(entries):
            yield self._ref(entry, after)

    def _items(self) -> Iterator[tuple[Any, str]]:
        url: Optional[str] = self.options.url
        visited: set[str] = set()
        for _ in range(self.options.max_pages):
            if not url or url in visited:
                return
            visited.add(url)
            page = self._page(url)
            items = dotted(page, self.options.items) if self.options.items else page
            if not isinstance(items, list):
                raise SourceError(f"source {self.settings.name!r}: {url}: no list of items at "
                                  f"{self.options.items or '(top level)'!r}", "bad_response")
            for item in items:
                yield item, url
            url = self._next(page, url) if items else None
        log.warning("source %s: stopped after max_pages=%d pages", self.settings.name, self.options.max_pages)

    def _page(self, url: str) -> Any:
        try:
            data = self.fetcher.get(url, accept=JSON_TYPES).data
        except FetchError as exc:
            raise SourceError(f"source {self.settings.name!r}: {exc}", exc.reason) from None
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"source {self.settings.name!r}: {url}: malformed JSON ({exc})", "malformed_json") from None

    def _next(self, page: Any, url: str) -> Optional[str]:
        if self.options.next_url:
            following = dotted(page, self.options.next_url)
            return urljoin(url, str(following)) if following else None
        if self.options.cursor_path and self.options.cursor_param:
            value = dotted(page, self.options.cursor_path)
            if value in (None, ""):
                return None
            parts = urlsplit(url)
            query = [(k, v) for k, v in parse_qsl(parts.query) if k != self.options.cursor_param]
            query.append((self.options.cursor_param, str(value)))
            return urlunsplit(parts._replace(query=urlencode(query)))
        return None

    def _entry(self, item: Any, page_url: str) -> Optional[Entry]:
        fields = self.options.fields
        image = dotted(item, fields.image)
        if not isinstance(image, str) or not image.strip():
            log.info("source %s: item without an image at %r skipped", self.settings.name, fields.image)
            return None
        url = urljoin(page_url, image.strip())
        identifier = dotted(item, fields.id)
        return Entry(str(identifier) if identifier not in (None, "") else url,
                     parse_time(dotted(item, fields.time)), (item, url))

    def _ref(self, entry: Entry, cursor: dict[str, Any]) -> ImageRef:
        item, url = entry.payload
        fields = self.options.fields
        return ImageRef(uri=url, external_id=entry.id, posted_at=entry.posted,
                        latitude=as_float(dotted(item, fields.latitude)),
                        longitude=as_float(dotted(item, fields.longitude)),
                        place=as_text(dotted(item, fields.place)), caption=as_text(dotted(item, fields.caption)),
                        author=as_text(dotted(item, fields.author)), reach=as_int(dotted(item, fields.reach)),
                        cursor=cursor)
