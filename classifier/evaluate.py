"""Evaluation: ranking and thresholded metrics per brand, top-1 accuracy, no-logo false positives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifier.dataset import Dataset
from classifier.errors import DatasetError
from classifier.tiling import Tiling


def metrics_from_scores(
    labels: np.ndarray, scores: np.ndarray, classes: Sequence[str], thresholds: dict[str, float]
) -> dict[str, Any]:
    """All evaluation figures from multi-hot labels (N, C), scores (N, C) and per-brand thresholds."""
    from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_fscore_support

    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    cut = np.array([thresholds[c] for c in classes])
    decided = (scores >= cut).astype(int)
    precision, recall, f1, support = precision_recall_fscore_support(labels, decided, average=None, zero_division=0)
    per_brand = {}
    aps = []
    for i, brand in enumerate(classes):
        ap = float(average_precision_score(labels[:, i], scores[:, i])) if labels[:, i].any() else None
        if ap is not None:
            aps.append(ap)
        per_brand[brand] = {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "ap": ap,
            "support": int(support[i]),
            "threshold": float(cut[i]),
            "predicted": int(decided[:, i].sum()),
        }
    true_positive = int((decided & labels).sum())
    single = labels.sum(axis=1) == 1
    nologo = labels.sum(axis=1) == 0
    truth = labels[single].argmax(axis=1)
    top = scores[single].argmax(axis=1) if len(classes) else np.zeros(0, int)
    matrix = (
        confusion_matrix(truth, top, labels=list(range(len(classes))))
        if single.any()
        else np.zeros((len(classes), len(classes)), int)
    )
    return {
        "reliability": reliability(labels, scores),
        "decision_confusion": decision_confusion(labels, decided, scores, classes),
        "photos": int(len(labels)),
        "single_brand_photos": int(single.sum()),
        "nologo_photos": int(nologo.sum()),
        "macro_average_precision": float(np.mean(aps)) if aps else None,
        "brand_top1_accuracy": float((top == truth).mean()) if single.any() else None,
        "nologo_false_positive_rate": float(decided[nologo].any(axis=1).mean()) if nologo.any() else None,
        "micro_precision": true_positive / max(int(decided.sum()), 1),
        "micro_recall": true_positive / max(int(labels.sum()), 1),
        "per_brand": per_brand,
        "confusion": {"labels": list(classes), "matrix": matrix.tolist()},
    }


def evaluate(
    model,
    dataset: Dataset,
    tiling: Any = None,
    batch_size: int = 32,
    scores: np.ndarray | None = None,
    progress: bool = False,
    keep_scores: list | None = None,
) -> dict[str, Any]:
    """Score every photo of `dataset` with `model` at its stored thresholds and measure (the scores are
    appended to `keep_scores` when given)."""
    from classifier.images import read_rgb

    unknown = sorted(set(dataset.classes) - set(model.classes))
    if unknown:
        raise DatasetError(
            f"the data set has brands the model was not trained on: {', '.join(unknown)} "
            f"(model brands: {', '.join(model.classes)})"
        )
    if scores is None:
        photos = (read_rgb(e.path) for e in dataset.examples)
        if progress:
            from rich.progress import track

            photos = track(photos, total=len(dataset), description="Scoring photos", transient=True)
        scores = model.scores(photos, tiling=tiling, batch_size=batch_size)
    if keep_scores is not None:
        keep_scores.append(scores)
    result = metrics_from_scores(dataset.labels(model.classes), scores, model.classes, model.thresholds)
    result["tiling"] = Tiling.of(tiling).on
    result["worst"] = worst_examples(
        dataset.labels(model.classes), scores, model.classes, model.thresholds, [str(e.path) for e in dataset.examples]
    )
    return result


def reliability(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Every (photo, brand) score in equal-width bins: how many, their mean score, how often the brand was there."""
    labels = np.asarray(labels, dtype=np.float64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    which = np.minimum((scores * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        count = int(inside.sum())
        out.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "pairs": count,
                "mean_score": float(scores[inside].mean()) if count else None,
                "observed": float(labels[inside].mean()) if count else None,
            }
        )
    return out


def decision_confusion(
    labels: np.ndarray, decided: np.ndarray, scores: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Photos with one brand or none: true brand (or "no logo") against the decision (the highest-scoring brand
    over its threshold, or "no logo")."""
    names = list(classes) + ["no logo"]
    keep = np.asarray(labels).sum(axis=1) <= 1
    truth = np.where(labels[keep].any(axis=1), labels[keep].argmax(axis=1), len(classes))
    masked = np.where(decided[keep].astype(bool), scores[keep], -np.inf)
    guess = np.where(decided[keep].any(axis=1), masked.argmax(axis=1), len(classes))
    matrix = np.zeros((len(names), len(names)), int)
    np.add.at(matrix, (truth, guess), 1)
    return {"labels": names, "matrix": matrix.tolist()}


def worst_examples(
    labels: np.ndarray,
    scores: np.ndarray,
    classes: Sequence[str],
    thresholds: dict[str, float],
    paths: Sequence[str],
    count: int = 6,
) -> dict[str, list[dict[str, Any]]]:
    """The surest false alarms (brand not there, score over its threshold) and the clearest misses."""
    labels, scores = np.asarray(labels).astype(bool), np.asarray(scores, dtype=np.float64)
    cut = np.array([thresholds[c] for c in classes])
    alarms = [(scores[r, c], r, c) for r, c in zip(*np.nonzero(~labels & (scores >= cut)))]
    misses = [(scores[r, c], r, c) for r, c in zip(*np.nonzero(labels & (scores < cut)))]

    def rows(found, reverse):
        return [
            {"path": paths[r], "brand": classes[c], "score": float(v), "threshold": float(cut[c])}
            for v, r, c in sorted(found, reverse=reverse)[:count]
        ]

    return {"false_alarms": rows(alarms, True), "misses": rows(misses, False)}


def write_html(metrics: dict[str, Any], path: Path, title: str = "Classifier evaluation") -> Path:
    """The evaluation page (classifier.evaluate_html)."""
    from classifier.evaluate_html import write_page

    return write_page(metrics, Path(path), title)
