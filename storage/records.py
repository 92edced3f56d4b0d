"""Plain records the pipeline hands to storage, and what a saved batch reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DetectionRecord:
    """A brand the classifier saw in a photo; box in fractions of width/height, or None."""

    brand: str
    confidence: float
    box: tuple[float, float, float, float] | None = None


@dataclass
class ImageRecord:
    """One fetched photo, accepted or rejected, with its detections and optional thumbnail."""

    sha256: str
    uri: str
    external_id: str | None = None
    posted_at: datetime | None = None  # aware; None means "when ingested"
    time_source: str = "ingested"  # source | exif | ingested
    phash: str | None = None  # imagehash phash as 16 hex digits (64 bits)
    latitude: float | None = None
    longitude: float | None = None
    place: str | None = None
    caption: str | None = None
    author: str | None = None
    reach: int | None = None
    width: int | None = None
    height: int | None = None
    status: str = "accepted"  # accepted | rejected
    reject_reason: str | None = None
    reject_detail: str | None = None
    thumbnail_jpeg: bytes | None = field(default=None, repr=False)
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    detections: list[DetectionRecord] = field(default_factory=list)


@dataclass(frozen=True)
class FetchFailureRecord:
    """A reference whose bytes could not be fetched at all."""

    uri: str
    reason: str
    detail: str = ""
    ref: dict[str, Any] | None = field(default=None, compare=False, hash=False)  # to fetch it again later


@dataclass
class BatchResult:
    """Counts from one saved batch: rows new to the database, and what was already there."""

    new: int = 0  # image rows inserted (accepted, rejected and reposts)
    duplicates: int = 0  # images whose sha256 was already stored (or repeated in the batch)
    reposts: int = 0  # new images stored as a near-copy of an earlier accepted one
    rejected: dict[str, int] = field(default_factory=dict)  # new rejected images by reason
    detections: dict[str, int] = field(default_factory=dict)  # detection rows inserted, by brand
    failures: int = 0  # fetch failures recorded (with the photos the database refused)
    unstored: list[dict[str, str]] = field(default_factory=list)  # refused photos: {uri, reason}
