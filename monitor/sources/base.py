"""What every source yields and the protocol every source kind meets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Iterable, Optional, Protocol

from pydantic import BaseModel


@dataclass(frozen=True)
class ImageRef:
    """A photo a source points at, with what the source knows about it."""

    uri: str  # local path or http(s) URL
    external_id: str  # stable id inside the source (relative path, entry id, API id)
    posted_at: Optional[datetime] = None  # aware UTC; None when the source does not say
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    place: Optional[str] = None
    caption: Optional[str] = None
    author: Optional[str] = None
    reach: Optional[int] = None
    cursor: Optional[dict[str, Any]] = None  # the source's cursor once this ref is stored
    data: Optional[bytes] = field(default=None, repr=False)  # bytes already at hand (fake source)


class Source(Protocol):
    """A kind of image source; `poll` returns refs newer than the cursor."""

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]]

    def poll(self, cursor: Optional[dict[str, Any]]) -> Iterable[ImageRef]:
        """Refs newer than `cursor`, oldest first."""
        ...


def as_float(value: Any) -> Optional[float]:
    """A metadata value as a number, or None when it is empty or not numeric."""
    try:
        return None if value in (None, "") or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


def as_int(value: Any) -> Optional[int]:
    """A metadata value as a whole number (e.g. reach), or None."""
    number = as_float(value)
    return int(number) if number is not None else None


def as_text(value: Any) -> Optional[str]:
    """A metadata value as text, or None when empty."""
    return None if value in (None, "") else str(value)
