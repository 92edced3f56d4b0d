"""Evaluation: ranking and thresholded metrics per brand, top-1 accuracy, no-logo false positives."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from classifier.dataset import Dataset
from classifier.errors import DatasetError


def metrics_from_scores(labels: np.ndarray, scores: np.ndarray, classes: Sequence[str],
                        thresholds: dict[str, float]) -> dict[str, Any]:
    """All evaluation figures from multi-hot labels (N, C), scores (N, C) and per-brand thresholds."""
    from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_fscore_support

    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    cut = np.array([thresholds[c] for c in classes])
    decided = (scores >= cut).astype(int)
    precision, recall, f1, support = precision_recall_fscore_support(labels, decided, average=None,
                                                                     zero_division=0)
    per_brand = {}
    aps = []
    for i, brand in enumerate(classes):
        ap = float(average_precision_score(labels[:, i], scores[:, i])) if labels[:, i].any() else None
        if ap is not None:
            aps.append(ap)
        per_brand[brand] = {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                            "ap": ap, "support": int(support[i]), "threshold": float(cut[i]),
                            "predicted": int(decided[:, i].sum())}
    true_positive = int((decided & labels).sum())
    single = labels.sum(axis=1) == 1
    nologo = labels.sum(axis=1) == 0
    truth = labels[single].argmax(axis=1)
    top = scores[single].argmax(axis=1) if len(classes) else np.zeros(0, int)
    matrix = confusion_matrix(truth, top, labels=list(range(len(classes)))) if single.any() else \
        np.zeros((len(classes), len(classes)), int)
    return {
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


def evaluate(model, dataset: Dataset, tiling: Any = None, batch_size: int = 32,
             scores: Optional[np.ndarray] = None, progress: bool = False) -> dict[str, Any]:
    """Score every photo of `dataset` with `model` at its stored thresholds and measure."""
    from classifier.images import read_rgb

    unknown = sorted(set(dataset.classes) - set(model.classes))
    if unknown:
        raise DatasetError(f"the data set has brands the model was not trained on: {', '.join(unknown)} "
                           f"(model brands: {', '.join(model.classes)})")
    if scores is None:
        photos = (read_rgb(e.path) for e in dataset.examples)
        if progress:
            from rich.progress import track

            photos = track(photos, total=len(dataset), description="Scoring photos", transient=True)
        scores = model.scores(photos, tiling=tiling, batch_size=batch_size)
    result = metrics_from_scores(dataset.labels(model.classes), scores, model.classes, model.thresholds)
    result["tiling"] = bool(tiling is not None and getattr(tiling, "enabled", False))
    return result


def write_html(metrics: dict[str, Any], path: Path, title: str = "Classifier evaluation") -> Path:
    """A self-contained HTML page (plotly inline): confusion matrix and per-brand bars."""
    import html

    import plotly.graph_objects as go

    brands = list(metrics["per_brand"])
    matrix = metrics["confusion"]["matrix"]
    heat = go.Figure(go.Heatmap(z=matrix, x=brands, y=brands, colorscale="Blues",
                                hovertemplate="true %{y}<br>top-1 %{x}<br>%{z} photos<extra></extra>"))
    heat.update_layout(title="Single-brand photos: true brand (rows) vs top-scoring brand (columns)",
                       xaxis_title="top-scoring brand", yaxis_title="true brand", height=max(400, 22 * len(brands)))
    bars = go.Figure()
    for key in ("precision", "recall", "f1", "ap"):
        bars.add_bar(name=key, x=brands, y=[_num(metrics["per_brand"][b][key]) for b in brands])
    bars.update_layout(title="Per brand", barmode="group", yaxis_range=[0, 1])
    summary = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{_fmt(metrics.get(k))}</td></tr>"
        for k in ("macro_average_precision", "brand_top1_accuracy", "nologo_false_positive_rate",
                  "micro_precision", "micro_recall", "photos"))
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1><table>{summary}</table>"
            + heat.to_html(full_html=False, include_plotlyjs=True)
            + bars.to_html(full_html=False, include_plotlyjs=False) + "</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _num(value: Optional[float]) -> float:
    return float("nan") if value is None else float(value)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
