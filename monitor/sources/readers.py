"""Sources as readers of stored photos' bytes (workers, reclassify): each built once by name from the config."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from monitor.config import Settings, SourceSettings
from monitor.errors import ConfigError
from monitor.fetch import Fetcher
from monitor.sources.base import ImageRef, Source, SourceContext
from monitor.sources.files import read_regular
from monitor.sources.registry import build_source


class _NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlainReader(Source):
    """Reads a photo by its uri alone (a local file, or HTTP under default limits): for sources the config lacks."""

    kind: ClassVar[str] = "plain"
    Options: ClassVar[type[BaseModel]] = _NoOptions

    def __init__(self, context: SourceContext):
        super().__init__(SourceSettings(name="(not in the config)", kind=self.kind), _NoOptions(), context)
        self.max_bytes = context.ingest.max_bytes
        self.fetcher = Fetcher.from_settings(context.ingest)

    def poll(self, cursor: dict[str, Any] | None) -> Iterator[ImageRef]:
        """Nothing: a plain reader only reads."""
        return iter(())

    def read(self, ref: ImageRef) -> bytes:
        """The bytes at the ref's uri."""
        if ref.uri.startswith(("http://", "https://")):
            return self.fetcher.get(ref.uri).data
        return read_regular(Path(ref.uri), self.max_bytes)

    def close(self) -> None:
        """Close the fetcher's pooled connections."""
        self.fetcher.close()


class Readers:
    """Each source's reader by name, built once from the config; a PlainReader for names the config lacks."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.context = SourceContext.from_settings(settings)
        self.built: dict[str | None, Source] = {}
        self.lock = threading.Lock()

    def get(self, name: str | None) -> Source:
        """The source named `name` (or a PlainReader)."""
        with self.lock:
            if name not in self.built:
                try:
                    self.built[name] = build_source(self.settings.source(name or ""), self.context)
                except ConfigError:
                    self.built[name] = PlainReader(self.context)
            return self.built[name]

    def close(self) -> None:
        """Close every reader's HTTP session."""
        for source in self.built.values():
            source.close()
        self.built.clear()
