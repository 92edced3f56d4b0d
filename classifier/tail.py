"""The end every trainer shares: calibrated probabilities, thresholds, cross-fitted error rates, metrics and
the record of how the thresholds were calibrated (tiling), all from the validation photos' raw scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from classifier import calibration as calib
from classifier import error_rates
from classifier.evaluate import metrics_from_scores
from classifier.thresholds import calibrate
from classifier.tiling import Tiling

FOLDS = 5


def cross_fitted(
    labels: np.ndarray,
    scores: np.ndarray,
    classes: list[str],
    groups: np.ndarray,
    photos: int,
    seed: int = 0,
    target_precision: float | None = None,
    shrink: float = 0.0,
    folds: int = FOLDS,
):
    """(calibration, thresholds) chosen on every row, and error-rate counts cross-fitted over the photos: rows
    [0, photos) are photos, later rows extra negatives; `groups` gives each row's photo (its fold follows)."""
    photo_folds = error_rates.folds_of(labels[:photos], max(2, min(folds, photos)), seed)
    fold_of = photo_folds[groups]
    is_photo = np.arange(len(labels)) < photos

    def choose(rows: np.ndarray):
        """Calibration fit on the photos among `rows`, thresholds on their calibrated scores and extra rows."""
        own = rows & is_photo
        if len(np.unique(fold_of[own])) > 1:
            cal = calib.choose(labels[own], scores[own], classes, fold_of[own])
        else:
            cal = calib.fit(labels[own], scores[own], classes, "shared_platt")
        return cal, calibrate(labels[rows], cal.apply(scores[rows], classes), classes, target_precision, shrink=shrink)

    def decide(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        cal, cut = choose(train)
        return cal.apply(scores[held], classes) >= np.array([cut[c] for c in classes])

    calibration, thresholds = choose(np.ones(len(labels), bool))
    totals = error_rates.cross_fit(labels, fold_of, classes, decide, counted=is_photo)
    return calibration, thresholds, totals, len(np.unique(photo_folds))


def finish_training(
    model: Any,
    *,
    labels: np.ndarray,
    scores: np.ndarray,
    training: dict[str, Any],
    tiling: Any = None,
    extra_scores: np.ndarray | None = None,
    extra_groups: np.ndarray | None = None,
    target_precision: float | None = None,
    shrink: float = 0.0,
    seed: int = 0,
) -> Any:
    """Set model.info, calibration, thresholds and metrics from the validation photos' labels (N, C) and raw
    scores (N, C). `extra_scores` are logo-free rows (e.g. background crops) that help choose thresholds,
    `extra_groups` the validation photo each came from (so it stays in that photo's fold)."""
    tiling = Tiling.of(tiling)
    classes = list(model.classes)
    model.info = {**(model.info or {}), "training": {**training, "tiling": tiling.as_dict()}}
    labels = np.asarray(labels, dtype=np.float32).reshape(-1, len(classes))
    scores = np.asarray(scores, dtype=np.float64).reshape(-1, len(classes))
    n = len(labels)
    if n == 0:
        return model
    extra = np.zeros((0, len(classes))) if extra_scores is None else np.asarray(extra_scores, np.float64)
    groups = np.concatenate([np.arange(n), np.asarray(extra_groups, int) if len(extra) else np.zeros(0, int)])
    all_labels = np.concatenate([labels, np.zeros_like(extra, dtype=np.float32)])
    all_scores = np.concatenate([scores, extra])
    calibration, thresholds, totals, k = cross_fitted(
        all_labels, all_scores, classes, groups, n, seed=seed, target_precision=target_precision, shrink=shrink
    )
    model.calibration, model.thresholds = calibration, thresholds
    detail = (
        f"{k}-fold cross-fit over {n} validation photos: calibration and thresholds chosen on {k - 1} "
        f"folds, rates counted on the held-out fold; stored thresholds chosen on all {n}"
    )
    calibrated = calibration.apply(scores, classes)
    metrics = metrics_from_scores(labels, calibrated, classes, thresholds)
    metrics["tiling"] = tiling.on
    metrics["calibration"] = calibration.as_dict()
    metrics["error_rates"] = error_rates.report(
        totals, thresholds, method="cross-fit", detail=detail, photos=n, source="train", tiling=tiling.as_dict()
    )
    model.metrics = metrics
    return model
