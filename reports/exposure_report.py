"""What every report holds, campaign or plain period: the tables the renderers write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from reports.loading import DataQuality
from reports.windows import Window


@dataclass(kw_only=True)
class ExposureReport:
    """Exposure per brand in one or more windows, with breakdowns, corrections and data quality."""

    windows: tuple[Window, ...]
    by: str
    include_reposts: bool
    model_version: dict[str, Any]
    brands: list[str]
    tracked: list[str]  # brands in share of voice
    totals: pd.DataFrame
    share_by_window: pd.DataFrame
    share_by_period: pd.DataFrame
    series: pd.DataFrame
    places: pd.DataFrame
    sources: pd.DataFrame
    adjusted: pd.DataFrame  # corrected counts per window and brand (reports.correction.count_table)
    reliability: pd.DataFrame  # per brand: share of detections right on this feed, false-alarm rate
    examples: pd.DataFrame
    quality: DataQuality
    headline: str
    warnings: list[str]
    top_posts: pd.DataFrame = field(default_factory=pd.DataFrame)  # reports.top_posts.load_top_posts
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    kind: str = "period"
