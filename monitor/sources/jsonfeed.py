"""`jsonfeed` source: a JSON Feed (jsonfeed.org 1.0 and 1.1); photos from `image`, attachments and <img>."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urljoin

from pydantic import BaseModel, Field

from monitor.errors import SourceError
from monitor.sources.base import HttpOptions, ImageRef, as_text
from monitor.sources.html_images import Candidate, html_images, largest_once, unescape_url
from monitor.sources.json_pages import JsonPagesSource
from monitor.sources.timeline import Entry, parse_time


class JsonFeedOptions(HttpOptions):
    """Fields of a `jsonfeed` source."""

    html_images: bool = True  # also take <img> tags in content_html
    max_pages: int = Field(default=10, ge=1, le=1000)  # pages followed through next_url per poll


class JsonFeedSource(JsonPagesSource):
    """A JSON Feed; the cursor is the newest item time plus the ids seen at that time (as for RSS)."""

    kind: ClassVar[str] = "jsonfeed"
    Options: ClassVar[type[BaseModel]] = JsonFeedOptions
    options: JsonFeedOptions

    def _page_items(self, page: Any, url: str) -> list[Any]:
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list) or not str(page.get("version", "")).startswith("https://jsonfeed.org/"):
            raise SourceError(
                f"source {self.settings.name!r}: {url} is not a JSON Feed (no version or items)", "malformed_feed"
            )
        return items

    def _next(self, page: Any, url: str) -> str | None:
        following = page.get("next_url")
        return urljoin(url, following) if isinstance(following, str) else None

    def _entry(self, item: Any, page_url: str) -> Entry | None:
        if not isinstance(item, dict):
            return None
        urls = self._images(item, page_url)
        if not urls:
            return None
        identifier = as_text(item.get("id")) or as_text(item.get("url")) or urls[0]
        moment = parse_time(item.get("date_published") or item.get("date_modified"))
        return Entry(identifier, moment, (item, urls))

    def _images(self, item: dict[str, Any], page_url: str) -> list[str]:
        found: list[Candidate] = []
        if isinstance(item.get("image"), str):
            found.append(Candidate(unescape_url(item["image"])))
        for attachment in item.get("attachments") or []:
            if (
                isinstance(attachment, dict)
                and isinstance(attachment.get("url"), str)
                and str(attachment.get("mime_type") or "").startswith("image/")
            ):
                found.append(Candidate(unescape_url(attachment["url"])))
        if self.options.html_images and isinstance(item.get("content_html"), str):
            found += html_images(item["content_html"])
        base = item.get("url") if isinstance(item.get("url"), str) else page_url
        return largest_once(Candidate(urljoin(base, c.url), c.width, c.css_class, c.height) for c in found)

    def _ref(self, entry: Entry, url: str, cursor: dict[str, Any]) -> ImageRef:
        item = entry.payload[0]
        authors = item.get("authors") if isinstance(item.get("authors"), list) else [item.get("author")]
        author = next((a.get("name") for a in authors if isinstance(a, dict) and a.get("name")), None)
        return ImageRef(
            uri=url,
            external_id=f"{entry.id}|{url}",
            posted_at=entry.posted,
            caption=as_text(item.get("title")) or as_text(item.get("summary")),
            author=as_text(author),
            cursor=cursor,
        )
