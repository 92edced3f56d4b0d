"""`json` source: a JSON API with pagination and a field mapping given as dotted paths."""

from __future__ import annotations

import logging
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from monitor.errors import SourceError
from monitor.sources.base import HttpOptions, ImageRef, as_float, as_int, as_text
from monitor.sources.html_images import not_a_picture, unescape_url
from monitor.sources.json_pages import JsonPagesSource
from monitor.sources.jsonpath import parse_time_as, value_at, values_at
from monitor.sources.timeline import Entry

log = logging.getLogger(__name__)


class FieldMap(BaseModel):
    """Paths inside one item to each field the monitor stores (`a.b`, `a[0].b`; `[*]` in `image` only)."""

    model_config = ConfigDict(extra="forbid")

    # Every value the path gives is a photo of the item (`media[*].url`); a list: the first path giving any.
    image: str | list[str]
    id: str | None = None
    time: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    place: str | None = None
    caption: str | None = None
    reach: str | None = None
    author: str | None = None


class JsonOptions(HttpOptions):
    """Fields of a `json` source."""

    items: str = ""  # dotted path to the list of items ("" = the response is the list)
    fields: FieldMap
    next_url: str | None = None  # dotted path to the next page's URL
    cursor_path: str | None = None  # dotted path to the next page's cursor value ...
    cursor_param: str | None = None  # ... sent back as this query parameter
    page_param: str | None = None  # or numbered pages: this query parameter counts 1, 2, ... ...
    pages_path: str | None = None  # ... up to the page count at this path (else until a page is empty)
    max_pages: int = Field(default=50, ge=1, le=10_000)
    time_format: str | None = None  # strptime format of fields.time when it is not ISO 8601 or epoch


class JsonSource(JsonPagesSource):
    """A JSON API; every page is read, then items newer than the cursor are yielded oldest first."""

    kind: ClassVar[str] = "json"
    Options: ClassVar[type[BaseModel]] = JsonOptions
    options: JsonOptions

    def _page_items(self, page: Any, url: str) -> list[Any]:
        items = value_at(page, self.options.items) if self.options.items else page
        if not isinstance(items, list):
            raise SourceError(
                f"source {self.settings.name!r}: {url}: no list of items at {self.options.items or '(top level)'!r}",
                "bad_response",
            )
        return items

    def _next(self, page: Any, url: str) -> str | None:
        if self.options.next_url:
            following = value_at(page, self.options.next_url)
            return urljoin(url, str(following)) if following else None
        if self.options.cursor_path and self.options.cursor_param:
            value = value_at(page, self.options.cursor_path)
            return None if value in (None, "") else _with_param(url, self.options.cursor_param, value)
        if self.options.page_param:
            number = as_int(dict(parse_qsl(urlsplit(url).query)).get(self.options.page_param)) or 1
            last = as_int(value_at(page, self.options.pages_path))
            return (
                None if last is not None and number >= last else _with_param(url, self.options.page_param, number + 1)
            )
        return None

    def _entry(self, item: Any, page_url: str) -> Entry | None:
        fields = self.options.fields
        urls = self._images(item, page_url)
        if not urls:
            log.info("source %s: item without an image at %r skipped", self.settings.name, fields.image)
            return None
        identifier = value_at(item, fields.id)
        return Entry(
            str(identifier) if identifier not in (None, "") else urls[0],
            parse_time_as(value_at(item, fields.time), self.options.time_format),
            (item, urls),
        )

    def _images(self, item: Any, page_url: str) -> list[str]:
        """The item's photo URLs: every value of the first image path that gives any (videos left out)."""
        paths = [self.options.fields.image] if isinstance(self.options.fields.image, str) else self.options.fields.image
        for path in paths:
            found = [
                urljoin(page_url, unescape_url(value))
                for value in values_at(item, path)
                if isinstance(value, str) and value.strip()
            ]
            found = [url for url in dict.fromkeys(found) if not not_a_picture(url)]
            if found:
                return found
        return []

    def _ref(self, entry: Entry, url: str, cursor: dict[str, Any]) -> ImageRef:
        item, urls = entry.payload
        fields = self.options.fields
        # One photo: the item's id, as before; several: each photo of the post by its URL, stable and distinct.
        external_id = entry.id if len(urls) == 1 else f"{entry.id}|{url}"
        return ImageRef(
            uri=url,
            external_id=external_id,
            posted_at=entry.posted,
            latitude=as_float(value_at(item, fields.latitude)),
            longitude=as_float(value_at(item, fields.longitude)),
            place=as_text(value_at(item, fields.place)),
            caption=as_text(value_at(item, fields.caption)),
            author=as_text(value_at(item, fields.author)),
            reach=as_int(value_at(item, fields.reach)),
            cursor=cursor,
        )


def _with_param(url: str, name: str, value: Any) -> str:
    """The URL with one query parameter set (replacing it if present)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name] + [(name, str(value))]
    return urlunsplit(parts._replace(query=urlencode(query)))
