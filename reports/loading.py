"""Loading aggregated rows from storage.queries into the frames every report shares."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports.audited import with_audited_rates
from reports.errors import ReportError
from reports.metrics import breakdown, daily_frame, label_windows
from storage import quality, queries

NO_PLACE, NO_SOURCE = "(no place)", "(no source)"
COORDINATE_DECIMALS = 6  # about 0.1 m; sums added in a different order differ only far below this


def preload(*modules: str) -> threading.Thread:
    """Import slow modules (statsmodels takes seconds) in a thread while SQLite works without the GIL."""
    thread = threading.Thread(target=lambda: [importlib.import_module(m) for m in modules], daemon=True)
    thread.start()
    return thread


def choose_model_version(db: Any, requested: int | None = None) -> dict[str, Any]:
    """The requested model version, else the newest that has detections; ReportError when none."""
    version_id = requested if requested is not None else quality.latest_model_version(db)
    if version_id is None:
        raise ReportError("the database holds no detections yet: ingest photos first (`monitor run`)")
    version = quality.model_version(db, version_id)
    if version is None:
        raise ReportError(f"no model version with id {version_id} in the database")
    # Brands with enough judgments of a random sample of the feed use those audited error rates
    # (reports.audited, issue 17); the others keep the bundle's held-out rates. metrics["error_rates"]
    # then says per brand which ("used") and, in "detail", of how many photos and when.
    return with_audited_rates(db, version)


@dataclass
class Exposure:
    """Aggregated counts: per day (brands and the denominator), reach per window, places and sources."""

    counts: pd.DataFrame  # day, brand, photos
    images: pd.DataFrame  # day, images, reach, reach_known
    reach: pd.DataFrame  # window, brand, reach, reach_known (the report's brands)
    places: pd.DataFrame  # window, place, brand, photos, images, latitude, longitude, rate_per_1000
    sources: pd.DataFrame  # window, source, brand, photos, images, rate_per_1000
    brands: list[str]  # the brands the place/source breakdowns and reach cover


def load_exposure(
    db: Any,
    version_id: int,
    windows: Sequence[Any],
    brands: Sequence[str],
    include_reposts: bool,
    top: int = 0,
    raw: bool = False,
) -> Exposure:
    """Run the aggregate queries and shape them into per-day and per-window frames.

    Breakdowns cover `brands` plus, when `top` > 0, the most detected brands up to `top` in all.
    The counts come from the rollups, or from the raw tables when `raw` (same numbers, slower).
    """
    start, end = min(w.start for w in windows), max(w.end for w in windows)
    # The big scans are independent: run them on separate connections at once.
    with ThreadPoolExecutor(max_workers=3) as pool:
        counted = pool.submit(queries.brand_counts_by_day, db, version_id, start, end, include_reposts, raw)
        ingested = pool.submit(queries.images_by_day, db, start, end, include_reposts, raw)
        placed = (
            None
            if top
            else pool.submit(queries.brand_counts_by_place, db, version_id, windows, list(brands), include_reposts, raw)
        )
        by_source = daily_frame(counted.result(), ["day", "brand", "source", "photos"])
        if top:
            ranked = by_source.groupby("brand")["photos"].sum().sort_values(ascending=False, kind="stable")
            brands = list(dict.fromkeys([*brands, *ranked.index]))[: max(top, len(brands))]
            placed = pool.submit(
                queries.brand_counts_by_place, db, version_id, windows, list(brands), include_reposts, raw
            )
        seen = daily_frame(
            ingested.result(),
            ["day", "source", "place", "images", "reach", "reach_known", "latitude_sum", "longitude_sum", "located"],
        )
        placed = pd.DataFrame(placed.result(), columns=["window", "place", "brand", "photos", "reach", "reach_known"])
    brands = list(brands)
    by_source["source"] = by_source["source"].fillna(NO_SOURCE)
    seen["source"] = seen["source"].fillna(NO_SOURCE)
    seen["place"] = seen["place"].fillna(NO_PLACE)
    placed["place"] = placed["place"].fillna(NO_PLACE)
    for column in ("photos", "reach", "reach_known"):
        placed[column] = pd.to_numeric(placed[column]).fillna(0)

    counts = by_source.groupby(["day", "brand"], as_index=False)["photos"].sum()
    images = seen.groupby("day", as_index=False)[["images", "reach", "reach_known"]].sum()
    reach = placed.groupby(["window", "brand"], as_index=False)[["reach", "reach_known"]].sum()

    labelled = label_windows(seen, windows)
    place_images = labelled.groupby(["window", "place"], as_index=False)[
        ["images", "latitude_sum", "longitude_sum", "located"]
    ].sum()
    located = place_images["located"].where(place_images["located"] > 0)
    place_images["latitude"] = (place_images["latitude_sum"] / located).round(COORDINATE_DECIMALS)
    place_images["longitude"] = (place_images["longitude_sum"] / located).round(COORDINATE_DECIMALS)
    source_images = labelled.groupby(["window", "source"], as_index=False)["images"].sum()
    source_counts = (
        label_windows(by_source, windows).groupby(["window", "source", "brand"], as_index=False)["photos"].sum()
    )

    places = breakdown(placed[["window", "place", "brand", "photos"]], place_images, "place", brands)
    sources = breakdown(source_counts, source_images, "source", brands)
    for frame in (places, sources):
        frame["photos"] = frame["photos"].astype(int)
    return Exposure(counts, images, reach, places, sources, brands)


@dataclass
class DataQuality:
    """What a reader needs to judge the numbers: rejections, failing sources, model versions used."""

    rejections: pd.DataFrame
    fetch_failures: pd.DataFrame
    failing_sources: pd.DataFrame
    model_versions: pd.DataFrame
    notes: list[str]


def load_quality(
    db: Any, windows: Sequence[Any], version: dict[str, Any], detections: int, raw: bool = False
) -> DataQuality:
    """Rejections per window and reason, fetch failures, failing sources and model versions in the span."""
    start, end = min(w.start for w in windows), max(w.end for w in windows)
    rejections = pd.DataFrame(queries.rejections(db, windows, raw), columns=["window", "reason", "photos"])
    rejections["reason"] = rejections["reason"].fillna("(no reason recorded)")
    order = {w.name: i for i, w in enumerate(windows)}
    by = {"window": lambda c: c.map(order), "photos": lambda c: -c, "reason": lambda c: c}
    rejections = rejections.sort_values(["window", "photos", "reason"], key=lambda c: by[c.name](c), kind="stable")
    failures = pd.DataFrame(
        quality.source_failures(db, start, end), columns=["source", "reason", "failures", "attempts", "last_at"]
    )
    failing = pd.DataFrame(
        quality.failing_sources(db, start, end),
        columns=["source", "kind", "last_error", "last_error_at", "consecutive_failures", "last_success_at"],
    )
    versions = pd.DataFrame(
        quality.model_versions_used(db, start, end),
        columns=["id", "checksum", "backbone", "input_size", "bundle_path", "thresholds", "created_at"],
    )
    versions["used_in_report"] = versions["id"] == version["id"]
    versions["detections"] = [
        detections if used else queries.detections_in_span(db, int(i), start, end, raw)
        for i, used in zip(versions["id"], versions["used_in_report"], strict=True)
    ]
    notes = []
    others = versions[~versions["used_in_report"]]
    if not others.empty:
        notes.append(
            f"Detections from {len(others)} other model version(s) exist in this period; "
            f"this report counts only version {version['id']} so that every window is measured alike."
        )
    return DataQuality(rejections, failures, failing, versions, notes)


def load_examples(
    db: Any,
    version_id: int,
    brands: Sequence[str],
    windows: Sequence[Any],
    limit: int,
    include_reposts: bool,
    seed: int = 0,
) -> pd.DataFrame:
    """A seeded random sample of detected photos per brand and window (highest reach first), thumbnails as JPEG."""
    from storage.samples import sample_examples

    return pd.DataFrame(
        sample_examples(db, version_id, brands, windows, limit, include_reposts, seed),
        columns=[
            "window",
            "brand",
            "image_id",
            "confidence",
            "posted_at",
            "uri",
            "caption",
            "place",
            "reach",
            "source",
            "jpeg",
            "width",
            "height",
        ],
    )
