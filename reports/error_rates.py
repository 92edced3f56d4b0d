"""The model's prevalence-free error rates (recall, false-positive rate), read from a model version's metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIN_PAIR_PHOTOS = 10


@dataclass(frozen=True)
class BrandRates:
    """Counts behind one brand's recall and false-positive rate, measured on held-out photos."""

    tp: float  # counts; effective (fractional) counts when the rates come from a weighted audit
    positives: float
    fp: float
    negatives: float
    fp_nologo: float | None = None
    negatives_nologo: float | None = None
    threshold: float | None = None
    tp_pair: float | None = None  # of tp and positives: photos that show another brand too
    positives_pair: float | None = None

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else math.nan

    @property
    def fpr(self) -> float:
        return self.fp / self.negatives if self.negatives else math.nan

    @property
    def pair_split(self) -> bool:
        """Whether recall was counted apart on photos showing the brand alone and with another brand, on
        at least MIN_PAIR_PHOTOS of each (fewer would give a recall of 0 or 1 from a photo or two)."""
        pair = self.positives_pair or 0
        return pair >= MIN_PAIR_PHOTOS and self.positives - pair >= MIN_PAIR_PHOTOS

    @property
    def fpr_nologo(self) -> float:
        return self.fp_nologo / self.negatives_nologo if self.negatives_nologo else math.nan


@dataclass(frozen=True)
class ErrorRates:
    """Per-brand rates plus how they were measured (the bundle's metrics["error_rates"])."""

    brands: dict[str, BrandRates]
    method: str
    detail: str
    photos: int
    source: str


def _count(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _brand(entry: Any) -> BrandRates | None:
    """One brand's rates, or None when its counts are missing or inconsistent (that brand only)."""
    if not isinstance(entry, Mapping):
        return None
    tp, positives, fp, negatives = (_count(entry.get(k)) for k in ("tp", "positives", "fp", "negatives"))
    if None in (tp, positives, fp, negatives) or tp > positives or fp > negatives:
        return None
    fp_nologo, negatives_nologo = _count(entry.get("fp_nologo")), _count(entry.get("negatives_nologo"))
    if fp_nologo is None or negatives_nologo is None or fp_nologo > negatives_nologo or negatives_nologo > negatives:
        fp_nologo = negatives_nologo = None
    threshold = entry.get("threshold")
    threshold = float(threshold) if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) else None
    tp_pair, positives_pair = _count(entry.get("tp_pair")), _count(entry.get("positives_pair"))
    if (
        tp_pair is None
        or positives_pair is None
        or tp_pair > positives_pair
        or positives_pair > positives
        or tp_pair > tp
        or tp - tp_pair > positives - positives_pair
    ):
        tp_pair = positives_pair = None
    return BrandRates(tp, positives, fp, negatives, fp_nologo, negatives_nologo, threshold, tp_pair, positives_pair)


def read_error_rates(metrics: Any) -> ErrorRates | None:
    """The cleaned error rates of a model version's metrics JSON; None when the bundle predates them."""
    block = metrics.get("error_rates") if isinstance(metrics, Mapping) else None
    if not isinstance(block, Mapping) or not isinstance(block.get("brands"), Mapping):
        return None
    brands = {
        str(name): rates for name, rates in ((n, _brand(e)) for n, e in block["brands"].items()) if rates is not None
    }
    photos = int(_count(block.get("photos")) or 0)
    return ErrorRates(
        brands=brands,
        method=str(block.get("method") or "unknown")[:40],
        detail=str(block.get("detail") or "")[:400],
        photos=photos,
        source=str(block.get("source") or "")[:40],
    )


def is_calibrated(metrics: Any) -> bool:
    """Whether the model's confidences are calibrated probabilities (metrics["calibration"] present)."""
    return isinstance(metrics, Mapping) and isinstance(metrics.get("calibration"), Mapping)
