"""The `monitor evaluate --html` page: figures in plain words, reliability, confusion with "no logo", worst photos."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

# One plain sentence per figure, for readers who are not statisticians.
EXPLAIN = {
    "macro_average_precision": "How well the scores rank photos with a brand above photos without it, averaged "
    "over brands (1 = perfect ranking, independent of any threshold).",
    "brand_top1_accuracy": "Of photos showing exactly one brand, the share where that brand got the highest score.",
    "nologo_false_positive_rate": "Of photos with no logo at all, the share where the model still reported a brand.",
    "micro_precision": "Of all brands the model reported, the share that really were in the photo.",
    "micro_recall": "Of all brands really in the photos, the share the model reported.",
    "photos": "How many labelled photos were scored.",
    "recall": "Of photos showing this brand, the share where it was detected.",
    "fpr": "Of photos not showing this brand, the share where it was detected anyway (a false alarm).",
    "reliability": "When the model says 'about N% likely', how often the brand was really there: a calibrated "
    "model's observed share is close to its mean score in every row.",
    "confusion": "Rows are what each photo really showed, columns what the model decided (its most likely brand "
    "over that brand's threshold, or no logo); the diagonal is right, everything else is a mistake.",
}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))


def _thumbnail(path: str, side: int = 160) -> str:
    """A small inline JPEG (data URI) of a photo, or '' when it cannot be read."""
    from classifier.images import decode

    try:
        image = decode(path).image
        image.thumbnail((side, side))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=80)
    except Exception:  # a photo that vanished or broke since scoring: show the row without it
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table border='1' cellpadding='4' style='border-collapse:collapse'><tr>{cells}</tr>{body}</table>"


def _summary(metrics: dict[str, Any]) -> str:
    keys = (
        "macro_average_precision",
        "brand_top1_accuracy",
        "nologo_false_positive_rate",
        "micro_precision",
        "micro_recall",
        "photos",
    )
    return _table(
        ["figure", "value", "what it means"],
        [[html.escape(k), _fmt(metrics.get(k)), html.escape(EXPLAIN[k])] for k in keys],
    )


def _reliability(metrics: dict[str, Any]) -> str:
    rows = [
        [f"{b['low']:.1f}-{b['high']:.1f}", str(b["pairs"]), _fmt(b["mean_score"]), _fmt(b["observed"])]
        for b in metrics.get("reliability", [])
        if b["pairs"]
    ]
    return f"<h2>Reliability of the scores</h2><p>{html.escape(EXPLAIN['reliability'])}</p>" + _table(
        ["score band", "photo-brand pairs", "mean score", "observed share with the brand"], rows
    )


def _confusion(metrics: dict[str, Any]) -> str:
    found = metrics.get("decision_confusion")
    if not found:
        return ""
    names = [html.escape(n) for n in found["labels"]]
    rows = [[f"<b>{names[i]}</b>", *(str(v) for v in row)] for i, row in enumerate(found["matrix"])]
    return f"<h2>Confusion, with no logo</h2><p>{html.escape(EXPLAIN['confusion'])}</p>" + _table(
        ["true \\ decided", *names], rows
    )


def _rates(metrics: dict[str, Any]) -> str:
    rates = metrics.get("error_rates")
    if not rates:
        return ""
    rows = [
        [
            html.escape(b),
            _fmt(r["threshold"]),
            f"{r['tp']}/{r['positives']}",
            _fmt(r["recall"]),
            f"{r['fp']}/{r['negatives']}",
            _fmt(r["fpr"]),
            f"{r['fp_nologo']}/{r['negatives_nologo']}",
            f"{r['fp_other']}/{r['negatives_other']}",
        ]
        for b, r in rates["brands"].items()
    ]
    return (
        f"<h2>Error rates</h2><p>{html.escape(EXPLAIN['recall'])} {html.escape(EXPLAIN['fpr'])} "
        f"({html.escape(rates['detail'])})</p>"
        + _table(
            [
                "brand",
                "threshold",
                "detected / showing it",
                "recall",
                "detected / not showing it",
                "false-positive rate",
                "of them no logo",
                "of them other brands",
            ],
            rows,
        )
    )


def _worst(metrics: dict[str, Any]) -> str:
    worst = metrics.get("worst") or {}
    parts = []
    for key, title, why in (
        ("false_alarms", "Worst false alarms", "a brand reported with a high score, not there"),
        ("misses", "Worst misses", "a brand that was there, scored far below its threshold"),
    ):
        cards = []
        for entry in worst.get(key, []):
            src = _thumbnail(entry["path"])
            img = f"<img src='{src}' alt=''><br>" if src else ""
            cards.append(
                f"<div style='display:inline-block;margin:4px;vertical-align:top;width:170px'>{img}"
                f"{html.escape(entry['brand'])}: {entry['score']:.2f} (threshold {entry['threshold']:.2f})"
                f"<br><small>{html.escape(Path(entry['path']).name)}</small></div>"
            )
        if cards:
            parts.append(f"<h2>{title}</h2><p>{why}</p>" + "".join(cards))
    return "".join(parts)


def write_page(metrics: dict[str, Any], path: Path, title: str | None = None) -> Path:
    """A self-contained HTML page (plotly inline, thumbnails as data URIs)."""
    import plotly.graph_objects as go

    title = title or "Classifier evaluation"
    brands = list(metrics["per_brand"])
    bars = go.Figure()
    for key in ("precision", "recall", "f1", "ap"):
        value = [metrics["per_brand"][b][key] for b in brands]
        bars.add_bar(name=key, x=brands, y=[float("nan") if v is None else v for v in value])
    bars.update_layout(title="Per brand", barmode="group", yaxis_range=[0, 1])
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1>{_summary(metrics)}"
        + _rates(metrics)
        + _reliability(metrics)
        + _confusion(metrics)
        + _worst(metrics)
        + bars.to_html(full_html=False, include_plotlyjs=True)
        + "</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
