"""The library functions behind `monitor train / evaluate / predict / dataset stats`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from classifier.dataset import Dataset, dataset_stats, load_dataset


def read_dataset(
    data_dir: Path | None, negatives: Sequence[Path] = (), labels: Path | None = None, boxes: Path | None = None
) -> Dataset:
    """load_dataset with a progress bar."""
    return load_dataset(data_dir, negatives=negatives, labels_csv=labels, boxes_csv=boxes, progress=True)


def stats(
    data_dir: Path | None, negatives: Sequence[Path] = (), labels: Path | None = None, boxes: Path | None = None
) -> dict[str, Any]:
    """Counts per class, duplicates, unreadable files and photo sizes of a labelled set."""
    return dataset_stats(read_dataset(data_dir, negatives, labels, boxes))


def train_bundle(
    data_dir: Path | None,
    out: Path,
    *,
    negatives: Sequence[Path] = (),
    labels: Path | None = None,
    boxes: Path | None = None,
    **options: Any,
):
    """Read the data, train (see classifier.train.train for the options), save the bundle; returns the model."""
    from classifier.train import train

    dataset = read_dataset(data_dir, negatives, labels, boxes)
    model = train(dataset, **options)
    model.save(out)
    return model, dataset


def evaluate_bundle(
    model_dir: Path,
    data_dir: Path | None,
    *,
    negatives: Sequence[Path] = (),
    labels: Path | None = None,
    tiling: Any = None,
    json_path: Path | None = None,
    html_path: Path | None = None,
    batch_size: int = 32,
    precision: str = "auto",
    update_rates: bool = False,
) -> dict[str, Any]:
    """Evaluate a saved bundle on a labelled set (`tiling` may be AS_TRAINED); optionally write the JSON and the
    HTML report, and store the error rates measured here in the bundle (source "evaluate")."""
    from classifier.bundle import update_metrics
    from classifier.error_rates import at_thresholds
    from classifier.evaluate import evaluate, write_html
    from classifier.model import LogoClassifier
    from classifier.tiling import Tiling

    model = LogoClassifier.load(model_dir, precision)
    tiling = Tiling.resolve(tiling, model.info)
    dataset = read_dataset(data_dir, negatives, labels)
    scores: list = []
    metrics = evaluate(model, dataset, tiling=tiling, batch_size=batch_size, progress=True, keep_scores=scores)
    metrics["error_rates"] = at_thresholds(
        dataset.labels(model.classes), scores[0], model.classes, model.thresholds, tiling.as_dict()
    )
    if update_rates:
        stored = {**model.metrics, "error_rates": metrics["error_rates"]}
        metrics["rates_stored"] = {"bundle": str(model.bundle_path), "checksum": update_metrics(model_dir, stored)}
    metrics["model"] = {"bundle": str(model.bundle_path), "checksum": model.checksum, "backbone": model.backbone}
    metrics["unreadable"] = [{"path": str(p), "reason": r} for p, r in dataset.unreadable]
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    if html_path:
        write_html(metrics, Path(html_path), title=f"Evaluation of {model.bundle_path.name}")
    return metrics


def predict_paths(
    model_dir: Path,
    paths: Iterable[Path],
    *,
    tiling: Any = None,
    thresholds: dict[str, float] | None = None,
    batch_size: int = 32,
    precision: str = "auto",
) -> list[dict[str, Any]]:
    """Detections per photo file (`tiling` may be AS_TRAINED); unreadable files get an `error` entry instead of
    stopping the run."""
    from classifier.images import read_rgb
    from classifier.model import LogoClassifier
    from classifier.tiling import Tiling

    model = LogoClassifier.load(model_dir, precision)
    tiling = Tiling.resolve(tiling, model.info)
    known = {b: t for b, t in (thresholds or {}).items() if b in model.classes}
    results: list[dict[str, Any]] = []
    images, slots = [], []
    for path in paths:
        try:
            images.append(read_rgb(path))
            slots.append(len(results))
            results.append({"path": str(path)})
        except Exception as exc:  # Pillow raises many types for bad files
            results.append({"path": str(path), "error": f"cannot read the photo: {exc}"})
    found = model.detect(images, thresholds=known, tiling=tiling, batch_size=batch_size) if images else []
    for slot, detections in zip(slots, found):
        results[slot]["detections"] = [
            {"brand": d.brand, "confidence": round(d.confidence, 4), "box": list(d.box) if d.box else None}
            for d in detections
        ]
    return results
