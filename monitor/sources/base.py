"""What every source yields, the base class every source kind subclasses, and the HTTP base that owns a fetcher."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from monitor.config import IngestSettings, Settings, SourceSettings
from monitor.errors import FetchError, FetchReason
from monitor.fetch import Fetcher


@dataclass(frozen=True)
class ImageRef:
    """A photo a source points at, with what the source knows about it."""

    uri: str  # local path or http(s) URL
    external_id: str  # stable id inside the source (relative path, entry id, API id)
    posted_at: datetime | None = None  # aware UTC; None when the source does not say
    latitude: float | None = None
    longitude: float | None = None
    place: str | None = None
    caption: str | None = None
    author: str | None = None
    reach: int | None = None
    cursor: dict[str, Any] | None = None  # the source's cursor once this ref is stored
    data: bytes | None = field(default=None, repr=False)  # bytes already at hand (fake source)


@dataclass(frozen=True)
class SourceContext:
    """What source constructors get besides their own settings and options."""

    ingest: IngestSettings = field(default_factory=IngestSettings)
    cache_dir: Path | None = None  # where sources keep state (the folder source's file list)
    base_dir: Path | None = None  # the config file's folder: relative paths start there
    stop: threading.Event | None = None  # set on SIGTERM: every wait of the source ends soon after

    @classmethod
    def from_settings(cls, settings: Settings, stop: threading.Event | None = None) -> SourceContext:
        """The context every source of this config is built with."""
        return cls(
            settings.ingest, settings.paths.cache, settings.config_path.parent if settings.config_path else None, stop
        )


class Source(ABC):
    """A kind of image source: `poll` yields refs newer than a cursor, `read` a ref's bytes."""

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]]

    def __init__(self, settings: SourceSettings, options: BaseModel, context: SourceContext):
        self.settings = settings
        self.options = options
        self.context = context
        self.warnings: list[str] = []  # problems a poll worked around (kept going): shown by `monitor status`

    @property
    def name(self) -> str:
        """The source's name in the config."""
        return self.settings.name

    @abstractmethod
    def poll(self, cursor: dict[str, Any] | None) -> Iterable[ImageRef]:
        """Refs newer than `cursor`, oldest first; each carries the cursor to store once it is committed."""

    def read(self, ref: ImageRef) -> bytes:
        """The photo's bytes (refs that carry `data` are never read)."""
        raise FetchError(f"{ref.uri}: a {self.kind} source cannot read photos", FetchReason.UNREADABLE)

    def committed(self, refs: Iterable[ImageRef]) -> None:  # noqa: B027 - an optional hook, not abstract
        """Called after the batch holding these refs is committed (default: nothing to remember)."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release what the source holds (default: nothing)."""


class HttpOptions(BaseModel):
    """Fields every HTTP source has."""

    model_config = ConfigDict(extra="forbid")

    url: str
    headers: dict[str, str] = Field(default_factory=dict)  # values may use ${ENV}; sent to the url's origin only
    send_headers_to: list[str] = Field(default_factory=list)  # more hosts (host or host:port) that get `headers`
    allow_hosts: list[str] = Field(default_factory=list)  # internal hosts allowed without allow_private


class HttpSource(Source):
    """A source fetched over HTTP; it owns one Fetcher under the source's limits and address policy."""

    options: HttpOptions

    def __init__(self, settings: SourceSettings, options: HttpOptions, context: SourceContext):
        super().__init__(settings, options, context)
        self.fetcher = Fetcher.from_settings(
            context.ingest,
            settings.allow_private,
            options.allow_hosts,
            options.headers,
            header_origin=options.url,
            send_headers_to=options.send_headers_to,
            stop=context.stop,
        )

    def read(self, ref: ImageRef) -> bytes:
        """The photo's bytes, fetched under this source's limits."""
        return self.fetcher.get(ref.uri).data

    def close(self) -> None:
        """Close the fetcher's pooled connections."""
        self.fetcher.close()


def as_float(value: Any) -> float | None:
    """A metadata value as a number, or None when it is empty or not numeric."""
    try:
        return None if value in (None, "") or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def as_int(value: Any) -> int | None:
    """A metadata value as a whole number (e.g. reach), or None."""
    number = as_float(value)
    try:
        return int(number) if number is not None else None
    except (OverflowError, ValueError):  # inf, nan
        return None


def as_text(value: Any) -> str | None:
    """A metadata value as text, or None when empty."""
    return None if value in (None, "") else str(value)
