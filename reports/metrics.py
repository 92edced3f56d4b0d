"""Exposure metrics: pure functions from aggregated query results to pandas frames."""

from __future__ import annotations

import math
import warnings as _warnings
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

MIN_PHOTOS = 10  # fewer detections than this in a window: too few to conclude
MAX_CI_RATIO = 4.0  # an interval whose upper/lower bound differ more than this is too wide
Z95 = 1.959963984540054


def daily_frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A frame from query rows, with `day` as datetime.date and missing numbers as 0."""
    frame = pd.DataFrame(list(rows), columns=list(columns))
    if "day" in frame:
        frame["day"] = pd.to_datetime(frame["day"]).dt.date
    for column in frame.columns:
        if column not in ("day", "brand", "window", "place", "source", "reason"):
            frame[column] = pd.to_numeric(frame[column]).fillna(0)
    return frame


def label_windows(frame: pd.DataFrame, windows: Sequence[Any]) -> pd.DataFrame:
    """A copy with a `window` column naming the window each `day` falls in (rows outside dropped)."""
    frame = frame.copy()
    frame["window"] = None
    for w in windows:
        frame.loc[frame["day"].map(w.contains_day).astype(bool), "window"] = w.name
    return frame.dropna(subset=["window"])


def period_start(day: date, by: str) -> date:
    """The first day of the day/week bucket `day` falls in (weeks start on Monday)."""
    return day - timedelta(days=day.weekday()) if by == "week" else day


def window_totals(
    counts: pd.DataFrame,
    images: pd.DataFrame,
    windows: Sequence[Any],
    brands: Sequence[str] | None = None,
    reach: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per window and brand: photos, images (denominator), rate per 1,000 photos, photos per day, reach."""
    names = [w.name for w in windows]
    days = pd.Series({w.name: w.days for w in windows})
    counted = label_windows(counts, windows).groupby(["window", "brand"], as_index=False)["photos"].sum()
    seen = label_windows(images, windows).groupby("window")[["images", "reach"]].sum()
    all_brands = list(dict.fromkeys([*(brands or []), *sorted(counted["brand"].unique())]))
    grid = pd.MultiIndex.from_product([names, all_brands], names=["window", "brand"]).to_frame(index=False)
    table = grid.merge(counted, on=["window", "brand"], how="left").fillna({"photos": 0})
    if reach is None or reach.empty:
        table["reach_weighted"], table["photos_with_reach"] = np.nan, 0
    else:
        reach = reach.rename(columns={"reach": "reach_weighted", "reach_known": "photos_with_reach"})
        table = table.merge(
            reach[["window", "brand", "reach_weighted", "photos_with_reach"]], on=["window", "brand"], how="left"
        )
        table["photos_with_reach"] = table["photos_with_reach"].fillna(0).astype(int)
    table["days"] = table["window"].map(days).astype(int)
    table["images"] = table["window"].map(seen["images"]).fillna(0).astype(int)
    table["images_reach"] = table["window"].map(seen["reach"]).fillna(0)
    table["photos"] = table["photos"].astype(int)
    table["rate_per_1000"] = np.where(
        table["images"] > 0, 1000 * table["photos"] / table["images"].clip(lower=1), np.nan
    )
    table["photos_per_day"] = table["photos"] / table["days"]
    table["reach_share"] = np.where(
        table["images_reach"] > 0,
        table["reach_weighted"] / table["images_reach"].where(table["images_reach"] > 0, 1),
        np.nan,
    )
    return table[
        [
            "window",
            "brand",
            "days",
            "photos",
            "images",
            "rate_per_1000",
            "photos_per_day",
            "reach_weighted",
            "photos_with_reach",
            "images_reach",
            "reach_share",
        ]
    ]


def poisson_lift(count1: int, exposure1: float, count0: int, exposure0: float) -> dict[str, float]:
    """Rate ratio (1 vs 0) with a 95% score interval and p-value for two Poisson rates (statsmodels)."""
    from statsmodels.stats.rates import confint_poisson_2indep, test_poisson_2indep

    nan = float("nan")
    if exposure1 <= 0 or exposure0 <= 0 or count1 + count0 == 0:
        return {"lift": nan, "ci_low": nan, "ci_high": nan, "p_value": nan}
    ratio = (count1 / exposure1) / (count0 / exposure0) if count0 else math.inf
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        if count1 > 0 and count0 > 0:
            p_value = float(test_poisson_2indep(count1, exposure1, count0, exposure0, method="score").pvalue)
            low, high = confint_poisson_2indep(count1, exposure1, count0, exposure0, method="score")
            low, high = float(low), float(high)
        else:  # the score interval is undefined at zero: exact conditional test, no interval
            p_value = float(test_poisson_2indep(count1, exposure1, count0, exposure0, method="exact-cond").pvalue)
            low, high = nan, nan
    return {"lift": float(ratio), "ci_low": low, "ci_high": high, "p_value": p_value}


def _too_uncertain(low: float, high: float) -> bool:
    return not (np.isfinite(low) and np.isfinite(high) and low > 0) or high / low > MAX_CI_RATIO


def lift_table(
    totals: pd.DataFrame, baseline: str = "before", compare: Sequence[str] = ("during", "after")
) -> pd.DataFrame:
    """Per brand and comparison window: rates, lift (rate ratio vs baseline), 95% CI, p-value, warning."""
    records = []
    indexed = totals.set_index(["window", "brand"])
    for brand in totals["brand"].unique():
        base = indexed.loc[(baseline, brand)]
        for name in compare:
            if (name, brand) not in indexed.index:
                continue
            row = indexed.loc[(name, brand)]
            stats = poisson_lift(int(row["photos"]), float(row["images"]), int(base["photos"]), float(base["images"]))
            warning = ""
            fewest = min(int(row["photos"]), int(base["photos"]))
            if fewest < MIN_PHOTOS:
                warning = f"too few photos to conclude (fewest in a window: {fewest}; need {MIN_PHOTOS})"
            elif _too_uncertain(stats["ci_low"], stats["ci_high"]):
                warning = "interval too wide to conclude"
            records.append(
                {
                    "brand": brand,
                    "window": name,
                    "baseline": baseline,
                    "photos": int(row["photos"]),
                    "images": int(row["images"]),
                    "baseline_photos": int(base["photos"]),
                    "baseline_images": int(base["images"]),
                    "rate_per_1000": row["rate_per_1000"],
                    "baseline_rate_per_1000": base["rate_per_1000"],
                    **stats,
                    "significant": bool(stats["p_value"] < 0.05) if np.isfinite(stats["p_value"]) else False,
                    "warning": warning,
                }
            )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "brand",
            "window",
            "baseline",
            "photos",
            "images",
            "baseline_photos",
            "baseline_images",
            "rate_per_1000",
            "baseline_rate_per_1000",
            "lift",
            "ci_low",
            "ci_high",
            "p_value",
            "significant",
            "warning",
        ],
    )


def relative_lift(lifts: pd.DataFrame, brand: str, competitors: Sequence[str]) -> pd.DataFrame:
    """Our lift divided by each competitor's, with a 95% CI on the log scale (variance 1/a+1/b+1/c+1/d)."""
    from scipy.stats import norm

    records = []
    for name in lifts["window"].unique():
        ours = lifts[(lifts["brand"] == brand) & (lifts["window"] == name)]
        for competitor in competitors:
            theirs = lifts[(lifts["brand"] == competitor) & (lifts["window"] == name)]
            if ours.empty or theirs.empty:
                continue
            a, b = ours.iloc[0], theirs.iloc[0]
            counts = [a["photos"], a["baseline_photos"], b["photos"], b["baseline_photos"]]
            record = {
                "brand": brand,
                "competitor": competitor,
                "window": name,
                "brand_lift": a["lift"],
                "competitor_lift": b["lift"],
                "relative_lift": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p_value": np.nan,
                "warning": "",
            }
            if min(counts) > 0:
                log_ratio = math.log(a["lift"]) - math.log(b["lift"])
                se = math.sqrt(sum(1.0 / c for c in counts))
                record.update(
                    relative_lift=math.exp(log_ratio),
                    ci_low=math.exp(log_ratio - Z95 * se),
                    ci_high=math.exp(log_ratio + Z95 * se),
                    p_value=float(2 * norm.sf(abs(log_ratio) / se)),
                )
            if min(counts) < MIN_PHOTOS:
                record["warning"] = f"too few photos to conclude (fewest in a window: {int(min(counts))})"
            elif _too_uncertain(record["ci_low"], record["ci_high"]):
                record["warning"] = "interval too wide to conclude"
            records.append(record)
    return pd.DataFrame.from_records(
        records,
        columns=[
            "brand",
            "competitor",
            "window",
            "brand_lift",
            "competitor_lift",
            "relative_lift",
            "ci_low",
            "ci_high",
            "p_value",
            "warning",
        ],
    )


def share_of_voice(counts: pd.DataFrame, key: str, brands: Sequence[str]) -> pd.DataFrame:
    """Each tracked brand's share of the tracked brands' photos, per value of `key` (window or period)."""
    tracked = counts[counts["brand"].isin(brands)]
    grouped = tracked.groupby([key, "brand"], as_index=False)["photos"].sum()
    totals = grouped.groupby(key)["photos"].transform("sum")
    grouped["share"] = np.where(totals > 0, grouped["photos"] / totals.where(totals > 0, 1), np.nan)
    return grouped[[key, "brand", "photos", "share"]]


def time_series(
    counts: pd.DataFrame, images: pd.DataFrame, by: str, first: date, last: date, brands: Sequence[str]
) -> pd.DataFrame:
    """Per day or week and brand: photos, images and rate per 1,000 photos (every bucket present)."""
    days = pd.date_range(first, last, freq="D").date
    buckets = sorted({period_start(d, by) for d in days})
    grid = pd.MultiIndex.from_product([buckets, list(brands)], names=["period", "brand"]).to_frame(index=False)
    c = counts.assign(period=counts["day"].map(lambda d: period_start(d, by)))
    c = c.groupby(["period", "brand"], as_index=False)["photos"].sum()
    i = images.assign(period=images["day"].map(lambda d: period_start(d, by))).groupby("period")["images"].sum()
    table = grid.merge(c, on=["period", "brand"], how="left").fillna({"photos": 0})
    table["photos"] = table["photos"].astype(int)
    table["images"] = table["period"].map(i).fillna(0).astype(int)
    table["rate_per_1000"] = np.where(
        table["images"] > 0, 1000 * table["photos"] / table["images"].clip(lower=1), np.nan
    )
    return table


def breakdown(counts: pd.DataFrame, images: pd.DataFrame, key: str, brands: Sequence[str]) -> pd.DataFrame:
    """Photos per window, `key` (place or source) and brand, with that key's images and rate per 1,000."""
    counts = counts[counts["brand"].isin(brands)]
    extra = [c for c in ("latitude", "longitude") if c in images]
    table = counts.merge(images[["window", key, "images", *extra]], on=["window", key], how="left")
    table["images"] = table["images"].fillna(0).astype(int)
    table["rate_per_1000"] = np.where(
        table["images"] > 0, 1000 * table["photos"] / table["images"].clip(lower=1), np.nan
    )
    # Ties in photos fall back to the key, so the rows' order never depends on the order SQL returned them in.
    return table.sort_values(
        ["window", "brand", "photos", key], ascending=[True, True, False, True], kind="stable"
    ).reset_index(drop=True)


def small_count_warnings(totals: pd.DataFrame, brands: Sequence[str]) -> list[str]:
    """Plain sentences for tracked brands with too few photos in a window to conclude anything."""
    messages = []
    for row in totals[totals["brand"].isin(brands)].itertuples(index=False):
        if row.photos < MIN_PHOTOS:
            messages.append(
                f"Only {row.photos} photo{'s' if row.photos != 1 else ''} of {row.brand} "
                f"in the {row.window} window: too few to conclude (we need at least {MIN_PHOTOS})."
            )
    for window in totals["window"].unique():
        images = int(totals.loc[totals["window"] == window, "images"].max() or 0)
        if images == 0:
            messages.append(f"No photos at all were ingested in the {window} window.")
    return messages
