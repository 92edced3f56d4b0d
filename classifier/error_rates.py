"""Prevalence-free error rates per brand (recall on photos showing it, false-positive rate on photos not
showing it), counted on photos that did not choose the thresholds: cross-fit folds or a separate split."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

COUNTS = (
    "tp",
    "positives",
    "fp",
    "negatives",
    "fp_nologo",
    "negatives_nologo",
    "fp_other",
    "negatives_other",
    "tp_pair",
    "positives_pair",
)


def folds_of(labels: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """A fold per photo, each brand (and no-logo) spread evenly: photos grouped by their label set, shuffled
    with `seed` within a group, then dealt round the folds."""
    labels = np.asarray(labels).astype(int)
    rng = np.random.default_rng(seed)
    keys = [tuple(np.flatnonzero(row)) for row in labels]
    out = np.zeros(len(labels), int)
    position = 0
    for key in sorted(set(keys)):
        members = np.flatnonzero([k_ == key for k_ in keys])
        for index in rng.permutation(members):
            out[index] = position % k
            position += 1
    return out


def counts(labels: np.ndarray, decided: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per brand: detections among photos showing it (and of those, photos sharing the frame with another
    brand: found less often), among photos not showing it, and of those no-logo or other-brand."""
    labels = np.asarray(labels).astype(bool)
    decided = np.asarray(decided).astype(bool)
    nologo = ~labels.any(axis=1)
    pair = labels.sum(axis=1) >= 2
    out = {}
    for col, brand in enumerate(classes):
        shows, fired = labels[:, col], decided[:, col]
        other = ~shows & ~nologo
        out[brand] = {
            "tp": int((fired & shows).sum()),
            "positives": int(shows.sum()),
            "fp": int((fired & ~shows).sum()),
            "negatives": int((~shows).sum()),
            "fp_nologo": int((fired & nologo).sum()),
            "negatives_nologo": int(nologo.sum()),
            "fp_other": int((fired & other).sum()),
            "negatives_other": int(other.sum()),
            "tp_pair": int((fired & shows & pair).sum()),
            "positives_pair": int((shows & pair).sum()),
        }
    return out


def cross_fit(
    labels: np.ndarray,
    folds: np.ndarray,
    classes: Sequence[str],
    decide: Callable[[np.ndarray, np.ndarray], np.ndarray],
    counted: np.ndarray | None = None,
) -> dict[str, dict[str, int]]:
    """Counts summed over folds: `decide(train_mask, held_mask)` chooses on the rows of the other folds and
    returns decisions (rows, C) for the held-out rows. Only rows in `counted` (default all) are counted and
    decided: extra rows (e.g. background crops) help choose but are not photos of the feed."""
    labels = np.asarray(labels)
    counted = np.ones(len(labels), bool) if counted is None else np.asarray(counted, bool)
    total = {brand: dict.fromkeys(COUNTS, 0) for brand in classes}
    for fold in np.unique(folds):
        held = (folds == fold) & counted
        decided = decide(folds != fold, held)
        for brand, values in counts(labels[held], decided, classes).items():
            for key, value in values.items():
                total[brand][key] += value
    return total


def report(
    brand_counts: dict[str, dict[str, int]],
    thresholds: dict[str, float],
    *,
    method: str,
    detail: str,
    photos: int,
    source: str,
    tiling: dict | None,
) -> dict[str, Any]:
    """The bundle's metrics["error_rates"] (docs/interfaces.md, "error rates"): counts and their rates."""
    brands = {}
    for brand, c in brand_counts.items():
        brands[brand] = {
            "threshold": float(thresholds[brand]),
            **{k: int(c[k]) for k in COUNTS},
            "recall": c["tp"] / c["positives"] if c["positives"] else None,
            "fpr": c["fp"] / c["negatives"] if c["negatives"] else None,
        }
    return {
        "method": method,
        "detail": detail,
        "photos": int(photos),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "tiling": tiling,
        "brands": brands,
    }


def at_thresholds(
    labels: np.ndarray,
    scores: np.ndarray,
    classes: Sequence[str],
    thresholds: dict[str, float],
    tiling: dict | None,
    source: str = "evaluate",
) -> dict[str, Any]:
    """Rates of fixed thresholds on labelled photos that did not choose them (e.g. `monitor evaluate`)."""
    cut = np.array([thresholds[c] for c in classes])
    decided = np.asarray(scores) >= cut
    detail = (
        f"counted on {len(labels)} labelled photos given to monitor evaluate, at the bundle's stored "
        f"thresholds (chosen on other photos)"
    )
    return report(
        counts(labels, decided, classes),
        thresholds,
        method="split",
        detail=detail,
        photos=len(labels),
        source=source,
        tiling=tiling,
    )
