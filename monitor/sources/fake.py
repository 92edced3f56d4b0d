"""`fake` source for tests: photos described inline in the config (generated colours or raw bytes)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from monitor.errors import SourceError
from monitor.sources.base import ImageRef, Source


class FakeItem(BaseModel):
    """One photo: a solid colour JPEG of `size`, or `data_base64` bytes as they are."""

    model_config = ConfigDict(extra="forbid")

    id: str
    color: tuple[int, int, int] = (128, 128, 128)
    size: tuple[int, int] = (64, 64)
    data_base64: str | None = None
    posted_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    place: str | None = None
    caption: str | None = None
    author: str | None = None
    reach: int | None = None


class FakeOptions(BaseModel):
    """Fields of a `fake` source."""

    model_config = ConfigDict(extra="forbid")

    items: list[FakeItem] = Field(default_factory=list)
    fail: str | None = None  # every poll raises SourceError with this message


class FakeSource(Source):
    """Yields its configured items in order (their bytes at hand); the cursor is how many were committed."""

    kind: ClassVar[str] = "fake"
    Options: ClassVar[type[BaseModel]] = FakeOptions
    options: FakeOptions

    def poll(self, cursor: dict[str, Any] | None) -> Iterator[ImageRef]:
        """Items after the first `cursor['done']`."""
        if self.options.fail:
            raise SourceError(f"source {self.settings.name!r}: {self.options.fail}", "fake_failure")
        done = int((cursor or {}).get("done", 0))
        for index, item in enumerate(self.options.items[done:], start=done + 1):
            yield ImageRef(
                uri=f"fake://{self.settings.name}/{item.id}",
                external_id=item.id,
                posted_at=item.posted_at,
                latitude=item.latitude,
                longitude=item.longitude,
                place=item.place,
                caption=item.caption,
                author=item.author,
                reach=item.reach,
                cursor={"done": index},
                data=_bytes(item),
            )


def _bytes(item: FakeItem) -> bytes:
    if item.data_base64 is not None:
        return base64.b64decode(item.data_base64)
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", item.size, item.color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
