"""The plain period report: exposure per brand per day or week, by place and source, without a campaign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Optional, Sequence

import pandas as pd

from reports import estimates, metrics
from reports.correction import correct, count_table
from reports.error_rates import read_error_rates
from reports.exposure_report import ExposureReport
from reports.loading import choose_model_version, load_examples, load_exposure, load_quality
from reports.windows import Window, period_window


@dataclass(kw_only=True)
class PeriodReport(ExposureReport):
    """Everything the renderers write for a date range."""

    @property
    def title(self) -> str:
        w = self.windows[0]
        return f"Exposure report: {w.first_day} to {w.last_day}"


def _headline(totals: pd.DataFrame, window: Window) -> str:
    images = int(totals["images"].max()) if not totals.empty else 0
    if images == 0:
        return f"No photos were ingested between {window.first_day} and {window.last_day}."
    top = totals.sort_values("photos", ascending=False).head(3)
    parts = [f"{row.brand} in {row.photos:,} ({row.rate_per_1000:.1f} per 1,000)" for row in top.itertuples()
             if row.photos > 0]
    seen = "; ".join(parts) if parts else "no tracked brand was detected"
    return (f"Between {window.first_day} and {window.last_day} the monitor analysed {images:,} photos "
            f"over {window.days} days: {seen}.")


def build_period_report(db: Any, first: date, last: date, *, by: str = "day", model_version: Optional[int] = None,
                        include_reposts: bool = False, tracked: Sequence[str] = (), examples: int = 3,
                        seed: int = 0, raw: bool = False) -> PeriodReport:
    """Query the database and compute the exposure tables for the inclusive dates first..last."""
    window = period_window(first, last)
    windows = (window,)
    version = choose_model_version(db, model_version)
    exposure = load_exposure(db, version["id"], windows, list(tracked), include_reposts, top=12, raw=raw)
    counts, images, brands = exposure.counts, exposure.images, exposure.brands
    totals = metrics.window_totals(counts, images, windows, list(tracked), exposure.reach)
    share_tracked = list(tracked) if len(tracked) >= 2 else brands
    series = metrics.time_series(counts, images, by, window.first_day, window.last_day, brands)
    correction = correct(totals, read_error_rates(version.get("metrics")), list(totals["brand"].unique()),
                         [window.name], seed=seed)
    reliability = estimates.reliability(correction)
    quality = load_quality(db, windows, version, int(counts["photos"].sum()), raw)
    warnings = (metrics.small_count_warnings(totals, list(tracked))
                + estimates.reliability_warnings(reliability, brands) + quality.notes)
    return PeriodReport(
        windows=windows, by=by, include_reposts=include_reposts, model_version=version, brands=brands,
        tracked=share_tracked, totals=totals,
        share_by_window=metrics.share_of_voice(totals, "window", share_tracked).merge(
            estimates.corrected_share(correction, share_tracked), on=["window", "brand"], how="left"),
        share_by_period=metrics.share_of_voice(series, "period", share_tracked), series=series,
        places=exposure.places, sources=exposure.sources,
        adjusted=count_table(correction), reliability=reliability,
        examples=load_examples(db, version["id"], brands[:10], windows, examples, include_reposts, seed),
        quality=quality, headline=_headline(totals, window), warnings=warnings)
