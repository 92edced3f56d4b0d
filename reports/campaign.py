"""The campaign report: before / during / after windows, lift, competitors, share of voice, corrections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports import estimates, metrics
from reports.charts import bucket_for
from reports.correction import correct, count_table
from reports.error_rates import read_error_rates
from reports.exposure_report import ExposureReport
from reports.headline import campaign_headline
from reports.loading import choose_model_version, load_examples, load_exposure, load_quality, preload
from reports.top_posts import load_top_posts
from reports.windows import campaign_windows


@dataclass(kw_only=True)
class CampaignReport(ExposureReport):
    """Everything the renderers write for one campaign; `brands` lists the campaign brand first."""

    campaign: Any
    lifts: pd.DataFrame
    relative: pd.DataFrame
    kind: str = "campaign"

    @property
    def title(self) -> str:
        return f"Campaign report: {self.campaign.name}"


def build_campaign_report(
    db: Any,
    campaign: Any,
    *,
    by: str = "auto",
    model_version: int | None = None,
    include_reposts: bool = False,
    tracked: Sequence[str] = (),
    examples: int = 3,
    seed: int = 0,
    raw: bool = False,
) -> CampaignReport:
    """Query the database and compute every table of the campaign report (SQL aggregates, then pandas)."""
    windows = campaign_windows(campaign)
    by = bucket_for(by, windows[0].first_day, windows[-1].last_day)  # auto: weeks from three weeks on
    preload("statsmodels.stats.rates", "scipy.stats")
    version = choose_model_version(db, model_version)
    brands = list(dict.fromkeys([campaign.brand, *campaign.competitors]))
    exposure = load_exposure(db, version["id"], windows, brands, include_reposts, raw=raw)
    counts, images = exposure.counts, exposure.images
    totals = metrics.window_totals(counts, images, windows, brands, exposure.reach)
    detected = [b for b in totals["brand"].unique() if b not in brands]
    tracked = list(dict.fromkeys([*brands, *tracked]))
    if len(tracked) < 2:  # a share of one brand says nothing: compare with everything detected
        tracked = [*tracked, *detected]
    # Conclusions come from counts corrected for the model's errors; the raw figures stay beside them.
    correction = correct(
        totals,
        read_error_rates(version.get("metrics")),
        list(dict.fromkeys([*tracked, *totals["brand"].unique()])),
        [w.name for w in windows],
        seed=seed,
    )
    lifts = metrics.lift_table(totals).merge(estimates.corrected_lifts(correction), on=["brand", "window"], how="left")
    relative = metrics.relative_lift(lifts, campaign.brand, list(campaign.competitors)).merge(
        estimates.corrected_relative(correction, campaign.brand, list(campaign.competitors)),
        on=["brand", "competitor", "window"],
        how="left",
    )
    share_by_window = metrics.share_of_voice(totals, "window", tracked).merge(
        estimates.corrected_share(correction, tracked), on=["window", "brand"], how="left"
    )
    series = metrics.time_series(
        counts, images, by, windows[0].first_day, windows[-1].last_day, list(dict.fromkeys([*brands, *tracked]))
    )
    share_by_period = metrics.share_of_voice(series, "period", tracked)
    places, sources = exposure.places, exposure.sources
    adjusted = count_table(correction)
    reliability = estimates.reliability(correction)
    example_rows = load_examples(db, version["id"], brands, windows, examples, include_reposts, seed)
    top_posts = load_top_posts(db, version["id"], brands, windows, include_reposts=include_reposts)
    quality = load_quality(db, windows, version, int(counts["photos"].sum()), raw)
    warnings = (
        metrics.small_count_warnings(totals, brands)
        + estimates.reliability_warnings(reliability, brands)
        + quality.notes
    )
    headline = campaign_headline(campaign.brand, list(campaign.competitors), lifts, relative)
    return CampaignReport(
        campaign=campaign,
        windows=windows,
        by=by,
        include_reposts=include_reposts,
        model_version=version,
        brands=brands,
        tracked=tracked,
        totals=totals,
        lifts=lifts,
        relative=relative,
        share_by_window=share_by_window,
        share_by_period=share_by_period,
        series=series,
        places=places,
        sources=sources,
        adjusted=adjusted,
        examples=example_rows,
        reliability=reliability,
        quality=quality,
        headline=headline,
        warnings=warnings,
        top_posts=top_posts,
    )
