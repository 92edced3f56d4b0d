"""Conclusions drawn from corrected counts: lift, relative lift, share of voice and per-brand reliability."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports.correction import Correction, quantiles

FALSE_ALARM_WARNING = 0.3  # warn when more than this share of a brand's count is likely false alarms


def _rates(c: Correction, point: bool) -> np.ndarray:
    counts = c.point if point else c.draws
    with np.errstate(divide="ignore", invalid="ignore"):
        return counts / np.where(c.images > 0, c.images, np.nan)


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """top / bottom; x / 0 is infinite for x > 0, and NaN (no correction) stays NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.where(top > 0, np.inf, np.nan))
    return np.where(np.isnan(top) | np.isnan(bottom), np.nan, ratio)


def lift_draws(c: Correction, baseline: str, window: str) -> tuple[np.ndarray, np.ndarray]:
    """Corrected lift (rate ratio window / baseline) per brand: the point estimate and the (D, B) draws."""
    j, k = c.windows.index(window), c.windows.index(baseline)
    point, draws = _rates(c, True), _rates(c, False)
    return _ratio(point[:, j], point[:, k]), _ratio(draws[:, :, j], draws[:, :, k])


def corrected_lifts(
    c: Correction, baseline: str = "before", compare: Sequence[str] = ("during", "after")
) -> pd.DataFrame:
    """Per brand and window: the corrected lift against the baseline and its 95% interval."""
    records = []
    for window in compare:
        if window not in c.windows or baseline not in c.windows:
            continue
        point, draws = lift_draws(c, baseline, window)
        low, high = quantiles(draws)
        for i, brand in enumerate(c.brands):
            records.append(
                {
                    "brand": brand,
                    "window": window,
                    "corrected_lift": point[i],
                    "corrected_ci_low": low[i],
                    "corrected_ci_high": high[i],
                }
            )
    return pd.DataFrame.from_records(
        records, columns=["brand", "window", "corrected_lift", "corrected_ci_low", "corrected_ci_high"]
    )


def corrected_relative(
    c: Correction,
    brand: str,
    competitors: Sequence[str],
    baseline: str = "before",
    compare: Sequence[str] = ("during", "after"),
) -> pd.DataFrame:
    """Our corrected lift divided by each competitor's, per window, with its 95% interval."""
    records = []
    if brand not in c.brands:
        return pd.DataFrame(
            columns=[
                "brand",
                "competitor",
                "window",
                "corrected_relative_lift",
                "corrected_ci_low",
                "corrected_ci_high",
            ]
        )
    i = c.brands.index(brand)
    for window in compare:
        if window not in c.windows or baseline not in c.windows:
            continue
        point, draws = lift_draws(c, baseline, window)
        for competitor in competitors:
            if competitor not in c.brands:
                continue
            k = c.brands.index(competitor)
            ratio = _ratio(draws[:, i], draws[:, k])
            low, high = quantiles(ratio)
            records.append(
                {
                    "brand": brand,
                    "competitor": competitor,
                    "window": window,
                    "corrected_relative_lift": float(_ratio(point[i : i + 1], point[k : k + 1])[0]),
                    "corrected_ci_low": float(low),
                    "corrected_ci_high": float(high),
                }
            )
    return pd.DataFrame.from_records(
        records,
        columns=["brand", "competitor", "window", "corrected_relative_lift", "corrected_ci_low", "corrected_ci_high"],
    )


def corrected_share(c: Correction, tracked: Sequence[str]) -> pd.DataFrame:
    """Each tracked brand's share of the tracked brands' corrected photos per window, with its 95% interval."""
    rows = [c.brands.index(b) for b in tracked if b in c.brands and c.corrected(b)]
    columns = ["window", "brand", "corrected_photos", "corrected_share", "corrected_share_low", "corrected_share_high"]
    if len(rows) < len([b for b in tracked if b in c.brands]):  # a share needs every tracked brand corrected
        return pd.DataFrame(columns=columns)
    point, draws = c.point[rows], c.draws[:, rows]
    share = _ratio(point, point.sum(axis=0, keepdims=True))
    share_draws = _ratio(draws, draws.sum(axis=1, keepdims=True))
    low, high = quantiles(share_draws)
    records = [
        {
            "window": w,
            "brand": c.brands[r],
            "corrected_photos": point[n, j],
            "corrected_share": share[n, j],
            "corrected_share_low": low[n, j],
            "corrected_share_high": high[n, j],
        }
        for j, w in enumerate(c.windows)
        for n, r in enumerate(rows)
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def reliability(c: Correction) -> pd.DataFrame:
    """Per brand over all windows: how often its detections are right on this feed, and its false-alarm rate.

    Expected false alarms are the FPR times the photos truly without the brand (reports.correction);
    the rest of the observed count is right, so the share right = 1 - false alarms / observed.
    """
    records = []
    for i, brand in enumerate(c.brands):
        rates = c.rates.get(brand)
        observed = float(c.observed[i].sum())
        record = {
            "brand": brand,
            "photos": int(observed),
            "fpr": np.nan,
            "recall": np.nan,
            "expected_false_alarms": np.nan,
            "share_right": np.nan,
            "warning": "",
        }
        if c.corrected(brand) and rates is not None:
            alarms = float(np.nansum(c.false_alarms[i])) if c.false_alarms is not None else np.nan
            right = 1 - alarms / observed if observed else np.nan
            record.update(
                fpr=rates.fpr,
                recall=rates.recall,
                expected_false_alarms=alarms,
                share_right=float(np.clip(right, 0, 1)) if observed else np.nan,
            )
            if observed and alarms / observed > FALSE_ALARM_WARNING:
                record["warning"] = (
                    f"about {min(alarms / observed, 1):.0%} of the photos counted for {brand} are "
                    f"likely false alarms: read its corrected figures, not the raw count"
                )
        else:
            record["warning"] = f"{brand}: {c.notes.get(brand, '')}"
        records.append(record)
    return pd.DataFrame.from_records(
        records, columns=["brand", "photos", "fpr", "recall", "expected_false_alarms", "share_right", "warning"]
    )


def reliability_warnings(table: pd.DataFrame, brands: Sequence[str]) -> list[str]:
    """Plain sentences for the report's brands whose counts are largely false alarms or uncorrected."""
    messages: list[str] = []
    for row in table[table["brand"].isin(brands)].itertuples(index=False):
        if "has no measured error rates" in row.warning:  # the whole model version: say it once
            text = "The model version has no measured error rates: every figure is raw (not corrected)."
        else:
            text = row.warning[0].upper() + row.warning[1:] + "." if row.warning else ""
        if text and text not in messages:
            messages.append(text)
    return messages
