"""Counts corrected for the classifier's errors (Rogan-Gladen), with seeded simulated intervals.

Observed = recall x true + FPR x (N - true), so true = (observed - FPR x N) / (recall - FPR), where N
is the photos analysed in the window. False alarms put the same floor FPR x N under every window;
subtracting it is what keeps lifts from shrinking toward 1 and shares from drifting toward equal.
Each simulated draw takes one recall and one FPR per brand from their Beta posteriors, shared by
every window (the same model counted every window, so its error is common to them and partly
cancels in a lift), and the counting noise of each window: given the truth T, the observed count is
Binomial(T, recall) + Binomial(N - T, FPR), whose spread the draw adds (normal approximation). The
intervals are for the photos truly posted in the window, not for a long-run rate behind them. Where the
rates give recall alone and beside another brand apart, each window's recall follows its own mix
(reports.observation).
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.error_rates import BrandRates, ErrorRates
from reports.observation import false_alarms, solve, solve_in_mix

DRAWS = 4000
MIN_SEPARATION = 0.1  # recall - FPR below this: the model barely tells the brand apart, no correction
LEVEL = 0.95


@dataclass
class Correction:
    """Point estimates and simulated draws of the true count per brand (rows) and window (columns)."""

    brands: list[str]
    windows: list[str]
    observed: np.ndarray  # (B, W) photos the model counted
    images: np.ndarray  # (W,) photos analysed
    point: np.ndarray  # (B, W) corrected counts, NaN where no correction
    draws: np.ndarray  # (D, B, W) simulated true counts, NaN for brands without a correction
    rates: dict[str, BrandRates] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # brand -> why not corrected
    false_alarms: np.ndarray | None = None  # (B, W) expected false alarms at the point estimate

    def corrected(self, brand: str) -> bool:
        """Whether `brand` has a correction (rates known and usable)."""
        return brand not in self.notes


def quantiles(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The central 95% interval of simulated values (infinite draws allowed, NaN draws ignored)."""
    tail = (1 - LEVEL) / 2
    # np.quantile is fast and gives NaN for an all-NaN column (a brand without a correction);
    # nanquantile (slow) only when some draws of a column are NaN.
    pick = np.nanquantile if np.isnan(values).any() and not np.isnan(values).all(axis=axis).all() else np.quantile
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = pick(values, [tail, 1 - tail], axis=axis, method="inverted_cdf")
    return low, high


def _stream(seed: int, brand: str) -> np.random.Generator:
    # One stream per brand: a brand's figures do not change when another brand joins the report.
    return np.random.default_rng([seed, zlib.crc32(brand.encode("utf-8"))])


def _why_not(rates: BrandRates | None, have_rates: bool) -> str:
    if not have_rates:
        return "the model version has no measured error rates: raw figures shown"
    if rates is None:
        return "no measured error rates for this brand in the model version: raw figures shown"
    if not rates.positives or not rates.negatives:
        return "error rates were measured without photos showing (or not showing) this brand: raw figures shown"
    # Where the rates give no-logo photos apart, those alarms are what a feed mostly holds: judge by the worse.
    worst = max(rates.fpr, rates.fpr_nologo) if rates.negatives_nologo else rates.fpr
    if rates.recall - worst < MIN_SEPARATION:
        return (
            f"the model barely tells this brand apart (recall {rates.recall:.0%} vs false alarms "
            f"{worst:.0%}): too unreliable to correct, raw figures shown"
        )
    return ""


def _split_known(rates: Sequence[BrandRates]) -> bool:
    return all(r.negatives_nologo and r.negatives - r.negatives_nologo > 0 for r in rates)


def _recall_parts(r: BrandRates) -> tuple[tuple[float, float], tuple[float, float]]:
    """(hits, trials) of recall alone and with another brand; the overall counts twice where not split."""
    if r.pair_split:
        return (r.tp - r.tp_pair, r.positives - r.positives_pair), (r.tp_pair, r.positives_pair)
    return (r.tp, r.positives), (r.tp, r.positives)


def _beta(streams: list[np.random.Generator], parts: list[tuple[float, float]], draws: int) -> np.ndarray:
    """(draws, B): one Beta(hits + 1, misses + 1) posterior draw per brand from its own stream."""
    return np.stack([g.beta(k + 1, n - k + 1, draws) for g, (k, n) in zip(streams, parts, strict=True)], axis=1)


def correct(
    totals: pd.DataFrame,
    error_rates: ErrorRates | None,
    brands: Sequence[str],
    windows: Sequence[str],
    seed: int = 0,
    draws: int = DRAWS,
) -> Correction:
    """Corrected counts and their draws for `brands` x `windows` from window totals (photos, images).

    Pass every brand the model counts (not only the tracked ones): together they say how many photos
    show no logo at all, where false alarms are counted apart when the rates give them apart."""
    indexed = totals.set_index(["brand", "window"])
    observed = np.array([[float(indexed["photos"].get((b, w), 0)) for w in windows] for b in brands]).reshape(
        len(brands), len(windows)
    )
    per_window = totals.groupby("window")["images"].max()
    images = np.array([float(per_window.get(w, 0)) for w in windows])
    point = np.full(observed.shape, np.nan)
    alarms = np.full(observed.shape, np.nan)
    simulated = np.full((draws, len(brands), len(windows)), np.nan)
    known = error_rates.brands if error_rates else {}
    notes = {b: why for b in brands if (why := _why_not(known.get(b), error_rates is not None))}
    used = [i for i, b in enumerate(brands) if b not in notes]
    if used:
        rates = [known[brands[i]] for i in used]
        split = _split_known(rates)
        tp, pos, fp, neg = (
            np.array([getattr(r, k) for r in rates], float) for k in ("tp", "positives", "fp", "negatives")
        )
        if split:
            fpn, negn = (np.array([getattr(r, k) for r in rates], float) for k in ("fp_nologo", "negatives_nologo"))
            fp_parts = list(zip(fpn, negn, strict=True)), list(zip(fp - fpn, neg - negn, strict=True))
        else:
            fp_parts = (list(zip(fp, neg, strict=True)),) * 2
        alone_parts, pair_parts = zip(*(_recall_parts(r) for r in rates), strict=True)
        hat = [np.array([k / n for k, n in parts]) for parts in (alone_parts, pair_parts, *fp_parts)]
        obs = observed[used]
        found, _ = solve_in_mix(*hat, obs, images)
        point[used] = np.clip(found, 0, None)
        alarms[used] = false_alarms(point[used], hat[2], hat[3], images)
        # Per brand, its own seeded stream: the same report twice reads the same.
        streams = [_stream(seed, brands[i]) for i in used]
        alone = _beta(streams, list(alone_parts), draws)
        pair = np.stack(  # a brand without the split keeps one recall: its "pair" draw is its "alone" one
            [
                g.beta(k + 1, n - k + 1, draws) if r.pair_split else a
                for g, r, a, (k, n) in zip(streams, rates, alone.T, pair_parts, strict=True)
            ],
            axis=1,
        )
        fp_none = _beta(streams, fp_parts[0], draws)
        fp_other = _beta(streams, fp_parts[1], draws) if split else fp_none
        noise = np.stack([g.standard_normal((draws, len(windows))) for g in streams], axis=1)
        # Counting noise: given the truth T, observed = Binomial(T, recall) + Binomial(false-alarm chances).
        truth, recall = solve_in_mix(alone, pair, fp_none, fp_other, np.broadcast_to(obs, noise.shape), images)
        truth = np.clip(truth, 0, images)
        false = false_alarms(truth, fp_none, fp_other, images)
        chances = np.clip(images - truth, 1, None)
        spread = np.sqrt(truth * recall * (1 - recall) + false * (1 - np.clip(false / chances, 0, 1)))
        simulated[:, used, :] = np.clip(solve(recall, fp_none, fp_other, obs - noise * spread, images), 0, None)
    return Correction(
        list(brands),
        list(windows),
        observed,
        images,
        point,
        simulated,
        {b: known[b] for b in brands if b in known},
        notes,
        alarms,
    )


def count_table(c: Correction) -> pd.DataFrame:
    """Per window and brand: observed and corrected photos with the 95% interval, and the rates used."""
    low, high = quantiles(c.draws)
    records = []
    for i, brand in enumerate(c.brands):
        rates = c.rates.get(brand)
        for j, window in enumerate(c.windows):
            n = c.images[j]
            records.append(
                {
                    "window": window,
                    "brand": brand,
                    "photos": int(c.observed[i, j]),
                    "images": int(n),
                    "recall": rates.recall if rates else np.nan,
                    "fpr": rates.fpr if rates else np.nan,
                    "false_alarms": c.false_alarms[i, j] if c.false_alarms is not None else np.nan,
                    "adjusted": c.point[i, j],
                    "adjusted_low": low[i, j],
                    "adjusted_high": high[i, j],
                    "adjusted_rate_per_1000": 1000 * c.point[i, j] / n if n else np.nan,
                    "tp": rates.tp if rates else np.nan,
                    "positives": rates.positives if rates else np.nan,
                    "fp": rates.fp if rates else np.nan,
                    "negatives": rates.negatives if rates else np.nan,
                    "note": c.notes.get(brand, ""),
                }
            )
    return pd.DataFrame.from_records(
        records,
        columns=[
            "window",
            "brand",
            "photos",
            "images",
            "recall",
            "fpr",
            "false_alarms",
            "adjusted",
            "adjusted_low",
            "adjusted_high",
            "adjusted_rate_per_1000",
            "tp",
            "positives",
            "fp",
            "negatives",
            "note",
        ],
    )
