"""The plain period report: exposure per brand per day or week, by place and source, without a campaign."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from reports import estimates, metrics
from reports.charts import bucket_for
from reports.correction import correct, count_table
from reports.error_rates import read_error_rates
from reports.exposure_report import ExposureReport
from reports.loading import choose_model_version, load_examples, load_exposure, load_quality
from reports.top_posts import load_top_posts
from reports.windows import Window, period_window


@dataclass(kw_only=True)
class PeriodReport(ExposureReport):
    """Everything the renderers write for a date range."""

    days_with_data: int | None = None  # days on which any photo was analysed (the rest are gaps, not zeros)

    @property
    def title(self) -> str:
        w = self.windows[0]
        return f"Exposure report: {w.first_day} to {w.last_day}"


def days_with_data(images: pd.DataFrame, window: Window) -> int:
    """Days in the window on which at least one photo was analysed."""
    days = images[(images["images"] > 0) & images["day"].map(window.contains_day).astype(bool)]["day"]
    return int(days.nunique())


def _brand_phrase(row: Any, own: bool) -> str:
    mine = " (yours)" if own else ""
    if row.note or not math.isfinite(row.adjusted):
        return f"{row.brand}{mine} in {row.photos:,} photos ({1000 * row.photos / row.images:.1f} per 1,000, raw)"
    return (
        f"{row.brand}{mine} in about {row.adjusted:,.0f} photos ({row.adjusted_rate_per_1000:.1f} per 1,000; "
        f"likely range {row.adjusted_low:,.0f}–{row.adjusted_high:,.0f})"
    )


def _headline(adjusted: pd.DataFrame, window: Window, own: Sequence[str], with_data: int) -> str:
    """Own brands always first (even when unseen), then the most seen others, from the corrected counts."""
    images = int(adjusted["images"].max()) if not adjusted.empty else 0
    if images == 0:
        return f"No photos were ingested between {window.first_day} and {window.last_day}."
    ranked = adjusted.assign(_rank=adjusted["adjusted"].fillna(adjusted["photos"]))
    ranked = ranked.sort_values(["_rank", "brand"], ascending=[False, True], kind="stable")
    mine = [r for r in ranked.itertuples() if r.brand in own]
    missing = [b for b in own if b not in set(ranked["brand"])]
    others = [r for r in ranked.itertuples() if r.brand not in own and r.photos > 0][: max(0, 3 - len(mine))]
    parts = [_brand_phrase(r, True) for r in mine] + [f"{b} (yours) in no photo" for b in missing]
    parts += [_brand_phrase(r, False) for r in others]
    seen = "; ".join(parts) if parts else "no tracked brand was detected"
    return (
        f"Between {window.first_day} and {window.last_day} the monitor analysed {images:,} photos "
        f"({with_data} days with data of {window.days}): {seen}."
    )


def build_period_report(
    db: Any,
    first: date,
    last: date,
    *,
    by: str = "auto",
    own: Sequence[str] = (),
    model_version: int | None = None,
    include_reposts: bool = False,
    tracked: Sequence[str] = (),
    examples: int = 3,
    seed: int = 0,
    raw: bool = False,
) -> PeriodReport:
    """Query the database and compute the exposure tables for the inclusive dates first..last.

    `own` brands always appear in the headline; `by` is day, week or auto (weeks from three weeks on)."""
    window = period_window(first, last)
    by = bucket_for(by, window.first_day, window.last_day)
    windows = (window,)
    version = choose_model_version(db, model_version)
    exposure = load_exposure(
        db, version["id"], windows, list(dict.fromkeys([*own, *tracked])), include_reposts, top=12, raw=raw
    )
    counts, images, brands = exposure.counts, exposure.images, exposure.brands
    totals = metrics.window_totals(counts, images, windows, list(tracked), exposure.reach)
    share_tracked = list(tracked) if len(tracked) >= 2 else brands
    series = metrics.time_series(counts, images, by, window.first_day, window.last_day, brands)
    correction = correct(
        totals, read_error_rates(version.get("metrics")), list(totals["brand"].unique()), [window.name], seed=seed
    )
    reliability = estimates.reliability(correction)
    adjusted = count_table(correction)
    with_data = days_with_data(images, window)
    quality = load_quality(db, windows, version, int(counts["photos"].sum()), raw)
    warnings = (
        metrics.small_count_warnings(totals, list(tracked))
        + estimates.reliability_warnings(reliability, brands)
        + quality.notes
    )
    return PeriodReport(
        windows=windows,
        by=by,
        include_reposts=include_reposts,
        model_version=version,
        brands=brands,
        tracked=share_tracked,
        totals=totals,
        share_by_window=metrics.share_of_voice(totals, "window", share_tracked).merge(
            estimates.corrected_share(correction, share_tracked), on=["window", "brand"], how="left"
        ),
        share_by_period=metrics.share_of_voice(series, "period", share_tracked),
        series=series,
        places=exposure.places,
        sources=exposure.sources,
        adjusted=adjusted,
        reliability=reliability,
        examples=load_examples(db, version["id"], brands[:10], windows, examples, include_reposts, seed),
        quality=quality,
        headline=_headline(adjusted, window, list(own), with_data),
        days_with_data=with_data,
        warnings=warnings,
        top_posts=load_top_posts(db, version["id"], brands[:10], windows, include_reposts=include_reposts),
    )
