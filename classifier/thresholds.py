"""Per-brand decision thresholds calibrated on validation photos."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT = 0.5
LOWEST, HIGHEST = 0.02, 0.98


def calibrate_one(labels: np.ndarray, scores: np.ndarray, target_precision: float | None = None) -> float:
    """Best-F1 threshold (or the lowest reaching `target_precision`), midway to the next lower score."""
    from sklearn.metrics import precision_recall_curve

    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.sum() == 0:
        # no positives to calibrate on: stay above every negative seen
        return float(np.clip(max(DEFAULT, scores.max(initial=0.0) + 1e-3), LOWEST, HIGHEST))
    precision, recall, cuts = precision_recall_curve(labels, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    if target_precision is None:
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        best = int(np.flatnonzero(f1 == f1.max())[-1])  # ties: the higher threshold
    else:
        reaching = np.flatnonzero(precision >= target_precision)
        best = int(reaching[0]) if len(reaching) else len(cuts) - 1
    cut = float(cuts[best])
    below = scores[scores < cut]
    if len(below):
        cut = (cut + float(below.max())) / 2
    return float(np.clip(cut, LOWEST, HIGHEST))


def calibrate(
    labels: np.ndarray,
    scores: np.ndarray,
    classes: Sequence[str],
    target_precision: float | None = None,
    shrink: float = 0.0,
) -> dict[str, float]:
    """One threshold per brand from validation labels (N, C) and scores (N, C).

    With `shrink` > 0, each brand's threshold moves toward the one calibrated on all brands pooled,
    weighted shrink : positives of the brand: a brand with three validation photos gets a steadier cut."""
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    own = {brand: calibrate_one(labels[:, i], scores[:, i], target_precision) for i, brand in enumerate(classes)}
    if not shrink or not labels.any():
        return own
    pooled = calibrate_one(labels.ravel(), scores.ravel(), target_precision)
    positives = labels.sum(axis=0)
    return {
        brand: float((positives[i] * own[brand] + shrink * pooled) / (positives[i] + shrink))
        for i, brand in enumerate(classes)
    }
