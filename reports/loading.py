"""Loading aggregated rows from storage.queries into frames the reports share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Sequence

import pandas as pd

from reports.errors import ReportError
from reports.metrics import daily_frame
from storage import queries


def choose_model_version(db: Any, requested: Optional[int] = None) -> dict[str, Any]:
    """The requested model version, else the newest that has detections; ReportError when none."""
    version_id = requested if requested is not None else queries.latest_model_version(db)
    if version_id is None:
        raise ReportError("the database holds no detections yet: ingest photos first (`monitor run`)")
    version = queries.model_version(db, version_id)
    if version is None:
        raise ReportError(f"no model version with id {version_id} in the database")
    return version


@dataclass
class DataQuality:
    """What a reader needs to judge the numbers: rejections, failing sources, model versions used."""

    rejections: pd.DataFrame
    fetch_failures: pd.DataFrame
    failing_sources: pd.DataFrame
    model_versions: pd.DataFrame
    notes: list[str]


def load_quality(db: Any, windows: Sequence[Any], version: dict[str, Any]) -> DataQuality:
    """Rejections per window and reason, fetch failures, failing sources and model versions in the span."""
    start, end = min(w.start for w in windows), max(w.end for w in windows)
    rejections = pd.DataFrame(queries.rejections(db, windows), columns=["window", "reason", "photos"])
    rejections["reason"] = rejections["reason"].fillna("(no reason recorded)")
    failures = pd.DataFrame(queries.source_failures(db, start, end),
                            columns=["source", "reason", "failures", "attempts", "last_at"])
    failing = pd.DataFrame(queries.failing_sources(db, start, end),
                           columns=["source", "kind", "last_error", "last_error_at", "consecutive_failures",
                                    "last_success_at"])
    versions = pd.DataFrame(queries.model_versions_used(db, start, end),
                            columns=["id", "checksum", "backbone", "input_size", "bundle_path", "thresholds",
                                     "created_at", "detections"])
    versions["used_in_report"] = versions["id"] == version["id"]
    notes = []
    others = versions[~versions["used_in_report"]]
    if not others.empty:
        notes.append(f"Detections from {len(others)} other model version(s) exist in this period; "
                     f"this report counts only version {version['id']} so that every window is measured alike.")
    return DataQuality(rejections, failures, failing, versions, notes)


def load_daily(db: Any, version_id: int, start: datetime, end: datetime,
               include_reposts: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Photos per day and brand, and images ingested per day, as frames."""
    counts = daily_frame(queries.brand_counts_by_day(db, version_id, start, end, include_reposts),
                         ["day", "brand", "photos", "reach", "reach_known"])
    images = daily_frame(queries.images_by_day(db, start, end, include_reposts),
                         ["day", "images", "reach", "reach_known"])
    return counts, images


def load_breakdowns(db: Any, version_id: int, windows: Sequence[Any],
                    include_reposts: bool) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per window: photos per place/source and brand, and images per place/source."""
    place_counts = pd.DataFrame(queries.brand_counts_by_place(db, version_id, windows, include_reposts),
                                columns=["window", "place", "brand", "photos"])
    place_images = pd.DataFrame(queries.images_by_place(db, windows, include_reposts),
                                columns=["window", "place", "images", "latitude", "longitude"])
    source_counts = pd.DataFrame(queries.brand_counts_by_source(db, version_id, windows, include_reposts),
                                 columns=["window", "source", "brand", "photos"])
    source_images = pd.DataFrame(queries.images_by_source(db, windows, include_reposts),
                                 columns=["window", "source", "images"])
    for frame, key, label in ((place_counts, "place", "(no place)"), (place_images, "place", "(no place)"),
                              (source_counts, "source", "(no source)"), (source_images, "source", "(no source)")):
        frame[key] = frame[key].fillna(label)
    return {"place": (place_counts, place_images), "source": (source_counts, source_images)}


def load_examples(db: Any, version_id: int, brands: Sequence[str], windows: Sequence[Any], limit: int,
                  include_reposts: bool) -> pd.DataFrame:
    """The most confident photos per brand and window, thumbnails as JPEG bytes."""
    return pd.DataFrame(queries.top_examples(db, version_id, brands, windows, limit, include_reposts),
                        columns=["window", "brand", "image_id", "confidence", "posted_at", "uri", "caption",
                                 "place", "source", "jpeg", "width", "height"])
