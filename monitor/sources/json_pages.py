"""The part JSON sources share: pages fetched and parsed, items turned into entries, newer ones yielded."""

from __future__ import annotations

import json
import logging
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

from monitor.errors import FetchError, SourceError
from monitor.fetch import JSON_TYPES
from monitor.sources.base import HttpSource, ImageRef
from monitor.sources.timeline import Entry, Timeline


class JsonPagesSource(HttpSource):
    """A source whose pages are JSON; subclasses say how pages chain, what an entry is and what a ref holds."""

    options: Any  # the kind's HttpOptions, with max_pages

    def poll(self, cursor: dict[str, Any] | None) -> Iterator[ImageRef]:
        """Photos of items newer than the cursor across every page, oldest first."""
        entries = []
        for item, page_url in self._items():
            try:
                entry = self._entry(item, page_url)
            except ValueError as exc:  # e.g. an image URL urljoin cannot parse: that item only
                logging.getLogger(type(self).__module__).warning("source %s: item skipped: %s", self.settings.name, exc)
                continue
            if entry is not None:
                entries.append(entry)
        for entry, before, after in Timeline.from_cursor(cursor).newer(entries):
            urls = entry.payload[1]
            for index, url in enumerate(urls):  # the cursor moves past the item with its last photo
                yield self._ref(entry, url, after if index == len(urls) - 1 else before)

    def _page(self, url: str) -> Any:
        """One page fetched and parsed; a fetch failure or malformed JSON fails the poll."""
        try:
            data = self.fetcher.get(url, accept=JSON_TYPES).data
        except FetchError as exc:
            raise SourceError(f"source {self.settings.name!r}: {exc}", exc.reason) from None
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(
                f"source {self.settings.name!r}: {url}: malformed JSON ({exc})", "malformed_json"
            ) from None

    def _items(self) -> Iterator[tuple[Any, str]]:
        """Every item of every page followed (each page once, at most max_pages), with the URL of its page."""
        url: str | None = self.options.url
        visited: set[str] = set()
        for _ in range(self.options.max_pages):
            if not url or url in visited:
                return
            visited.add(url)
            page = self._page(url)
            items = self._page_items(page, url)
            yield from ((item, url) for item in items)
            url = self._next(page, url) if items else None
        logging.getLogger(type(self).__module__).warning(
            "source %s: stopped after max_pages=%d pages", self.settings.name, self.options.max_pages
        )

    @abstractmethod
    def _page_items(self, page: Any, url: str) -> list[Any]:
        """The page's list of items; SourceError when the page has none (the poll fails)."""

    @abstractmethod
    def _next(self, page: Any, url: str) -> str | None:
        """The next page's URL, or None after the last page."""

    @abstractmethod
    def _entry(self, item: Any, page_url: str) -> Entry | None:
        """The item's entry (payload: the item and its photo URLs), None to skip it; ValueError skips it loudly."""

    @abstractmethod
    def _ref(self, entry: Entry, url: str, cursor: dict[str, Any]) -> ImageRef:
        """The ref of one photo of the entry, carrying `cursor`."""
