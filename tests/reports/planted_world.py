"""Planted worlds for the error-correction tests: a known truth, a model with known error rates, what it counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np


def error_rates_metrics(brands: Mapping[str, tuple[int, int, int, int]], method: str = "split") -> dict:
    """A model version's metrics with error_rates in the agreed structure: brand -> (tp, positives, fp, negatives)."""
    return {
        "error_rates": {
            "method": method,
            "detail": f"{method}: thresholds and rates from different held-out photos",
            "photos": max(p + n for _, p, _, n in brands.values()),
            "source": "train",
            "tiling": None,
            "measured_at": datetime(2026, 4, 1, tzinfo=UTC).isoformat(),
            "brands": {
                b: {
                    "threshold": 0.5,
                    "tp": tp,
                    "positives": p,
                    "fp": fp,
                    "negatives": n,
                    "fp_nologo": fp,
                    "negatives_nologo": n,
                    "fp_other": 0,
                    "negatives_other": 0,
                    "recall": tp / p if p else None,
                    "fpr": fp / n if n else None,
                }
                for b, (tp, p, fp, n) in brands.items()
            },
        }
    }


@dataclass(frozen=True)
class Model:
    """A classifier's true error rates for one brand."""

    recall: float
    fpr: float


def measure(rng: np.random.Generator, model: Model, positives: int, negatives: int) -> tuple[int, int, int, int]:
    """Held-out counts (tp, positives, fp, negatives) as a validation set of this size would give them."""
    return (int(rng.binomial(positives, model.recall)), positives, int(rng.binomial(negatives, model.fpr)), negatives)


def count(rng: np.random.Generator, truth: np.ndarray, images: np.ndarray, model: Model) -> np.ndarray:
    """What the model counts: it finds each true photo with p = recall and flags each other with p = FPR."""
    return rng.binomial(truth, model.recall) + rng.binomial(images - truth, model.fpr)
