"""Calibration: raw head scores -> probabilities, fit on held-out photos. Candidates, simplest first: identity (the
raw scores are already the best), one Platt map shared by every brand (two numbers: steady with few photos a
brand), Platt per brand, isotonic per brand; the lowest cross-fitted log loss wins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METHODS = ("identity", "shared_platt", "platt", "isotonic")  # simplest first: ties go to the simpler
_EPS = 1e-6
TIE_BREAK = 1e-3  # weight of the raw score in a calibrated one (at most 0.001 of probability)


def _logit(scores: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(scores, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


def fit_platt(
    labels: np.ndarray, scores: np.ndarray, l2: float = 1e-3, steps: int = 50, floor: float | None = None
) -> dict[str, float]:
    """p = sigmoid(a * logit(score) + b) by Newton's method, with Platt's smoothed targets; a kept positive."""
    y = np.asarray(labels, dtype=np.float64)
    x = _logit(scores)
    positives, negatives = y.sum(), len(y) - y.sum()
    target = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    a, b = 1.0, 0.0
    for _ in range(steps):
        p = _sigmoid(a * x + b)
        w = np.maximum(p * (1 - p), 1e-12)
        grad = np.array([np.dot(p - target, x) + l2 * (a - 1), np.sum(p - target)])
        hess = np.array([[np.dot(w, x * x) + l2, np.dot(w, x)], [np.dot(w, x), np.sum(w) + l2]])
        try:
            delta = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        a, b = a - delta[0], b - delta[1]
        if np.abs(delta).max() < 1e-9:
            break
    # a > 0 keeps the order of scores; the floor: a finite sample never makes the model "certain"
    return {"a": float(max(a, 1e-3)), "b": float(b), "floor": 1.0 / (len(y) + 2) if floor is None else floor}


def fit_isotonic(labels: np.ndarray, scores: np.ndarray) -> dict[str, list[float]]:
    """A non-decreasing step function of the score (pool adjacent violators), as interpolation knots."""
    from sklearn.isotonic import IsotonicRegression

    n = len(labels)
    if n == 0:
        return {"x": [0.0, 1.0], "y": [0.5, 0.5]}
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64))
    floor = 1.0 / (n + 2)  # never "certain" from a finite sample
    return {
        "x": [float(v) for v in iso.X_thresholds_],
        "y": [float(v) for v in np.clip(iso.y_thresholds_, floor, 1 - floor)],
    }


def apply_one(method: str, params: dict[str, Any], scores: np.ndarray) -> np.ndarray:
    """One brand's calibrated probabilities: the method's map, then a sliver of the raw score added so the map is
    strictly increasing (photos keep their order: ranking figures such as AP are those of the raw scores)."""
    scores = np.asarray(scores, dtype=np.float64)
    if method in ("platt", "shared_platt"):
        floor = float(params.get("floor", 0.0))  # squashed into [floor, 1 - floor]: never "certain"
        mapped = floor + (1 - 2 * floor) * _sigmoid(params["a"] * _logit(scores) + params["b"])
    elif method == "isotonic":
        mapped = np.interp(scores, params["x"], params["y"])
    else:  # identity
        return scores
    return (1 - TIE_BREAK) * mapped + TIE_BREAK * scores


@dataclass
class Calibration:
    """Per-brand maps from raw scores to probabilities; `check` records the held-out comparison of methods."""

    method: str
    brands: dict[str, dict[str, Any]]
    photos: int
    check: dict[str, Any] = field(default_factory=dict)

    def apply(self, scores: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """Calibrated (N, C) probabilities; brands without a map keep their raw scores."""
        scores = np.asarray(scores, dtype=np.float64)
        out = scores.copy()
        for col, brand in enumerate(classes):
            if brand in self.brands:
                out[:, col] = apply_one(self.method, self.brands[brand], scores[:, col])
        return out.astype(np.float32)

    def as_dict(self) -> dict[str, Any]:
        """What the bundle stores as metrics["calibration"]."""
        return {"method": self.method, "brands": self.brands, "photos": self.photos, "check": self.check}

    @classmethod
    def from_dict(cls, value: Any) -> Calibration | None:
        """The stored calibration, or None for bundles from before calibration (or an unreadable entry)."""
        if (
            not isinstance(value, dict)
            or value.get("method") not in METHODS
            or not isinstance(value.get("brands"), dict)
        ):
            return None
        return cls(value["method"], value["brands"], int(value.get("photos") or 0), value.get("check") or {})


def fit(labels: np.ndarray, scores: np.ndarray, classes: Sequence[str], method: str) -> Calibration:
    """Maps per brand with `method` from multi-hot labels (N, C) and raw scores (N, C)."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    if method == "identity":
        brands: dict[str, dict[str, Any]] = {b: {} for b in classes}
    elif method == "shared_platt":  # every (photo, brand) pair as one sample; never "certain" past 1 in pairs + 2
        shared = fit_platt(labels.ravel(), scores.ravel(), floor=1.0 / (labels.size + 2))
        brands = {b: dict(shared) for b in classes}
    else:
        fitter = fit_platt if method == "platt" else fit_isotonic
        brands = {b: fitter(labels[:, i], scores[:, i]) for i, b in enumerate(classes)}
    return Calibration(method, brands, len(labels))


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean binary log loss over every (photo, brand) pair."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPS, 1 - _EPS)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def choose(labels: np.ndarray, scores: np.ndarray, classes: Sequence[str], folds: np.ndarray) -> Calibration:
    """The candidate with the lowest cross-fitted log loss (each fold scored by maps fit on the others; `folds`
    gives each photo's fold), then fit on all photos."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    losses = {}
    for method in METHODS:
        predicted = np.zeros(labels.shape, np.float64)
        for fold in np.unique(folds):
            held = folds == fold
            predicted[held] = fit(labels[~held], scores[~held], classes, method).apply(scores[held], classes)
        losses[method] = log_loss(labels, predicted)
    best = min(METHODS, key=lambda m: losses[m])  # min keeps the first (simplest) of equals
    calibration = fit(labels, scores, classes, best)
    calibration.check = {
        "held_out_log_loss": {k: round(v, 5) for k, v in losses.items()},
        "folds": int(len(np.unique(folds))),
    }
    return calibration
