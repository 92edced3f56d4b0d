"""Accuracy on real photos: MobileNet v1 0.25 (shared ImageNet weights) on FlickrLogos-27 + no-logo scenes.

Usage: python bench/accuracy.py [--shared ../shared] [--input-size 320] [--views 4] [--no-tiling]
Prints JSON: held-out macro AP, brand top-1, no-logo false-positive rate at the stored thresholds,
micro precision/recall, with and without tiling; plus the false-positive rate on logo-free crops of
held-out logo photos (ordinary Flickr backgrounds, not only scenes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _background_crops(test, seed: int):
    """Logo-free crops of held-out logo photos, as photos of their own."""
    from classifier.features import training_items
    from classifier.images import read_rgb

    items = [i for i in training_items(test, context_crops=0, hard_negatives=1, seed=seed) if i.crop is not None]
    return [read_rgb(i.example.path)[i.crop[1]:i.crop[3], i.crop[0]:i.crop[2]] for i in items]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--input-size", type=int, default=320)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--target-precision", type=float, default=None)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bench-accuracy-cache")
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--context-crops", type=int, default=3)
    parser.add_argument("--hard-negatives", type=int, default=2)
    parser.add_argument("--tiling", action=argparse.BooleanOptionalAction, default=True,
                        help="calibrate thresholds on tiled (2x2) scores (default) or on whole-photo scores")
    parser.add_argument("--out", type=Path, default=None, help="also save the trained bundle here")
    args = parser.parse_args()

    data = args.shared / "data" / "flickrlogos27-train"
    scenes = args.shared / "data" / "scenes-nologo"
    weights = args.shared / "weights" / "mobilenet_2_5_224_tf_no_top.h5"
    if not (data.is_dir() and scenes.is_dir() and weights.is_file()):
        print(json.dumps({"skipped": f"real data not found under {args.shared} (needs data/flickrlogos27-train, "
                                     f"data/scenes-nologo, weights/mobilenet_2_5_224_tf_no_top.h5)"}))
        return

    from classifier.dataset import load_dataset
    from classifier.evaluate import evaluate, metrics_from_scores
    from classifier.train import train
    from monitor.config import TilingSettings

    started = time.time()
    dataset = load_dataset(data, negatives=[scenes], boxes_csv=data / "boxes.csv", progress=False)
    train_set, test_set = dataset.split(args.test_fraction, seed=1000 + args.seed)
    model = train(train_set, backbone="mobilenet_v1_025", weights=str(weights), input_size=args.input_size,
                  epochs=args.epochs, views=args.views, seed=args.seed, cache_dir=args.cache,
                  target_precision=args.target_precision, dropout=args.dropout, hidden=args.hidden,
                  patience=args.patience, learning_rate=args.learning_rate, context_crops=args.context_crops,
                  hard_negatives=args.hard_negatives, progress=False,
                  tiling=TilingSettings(enabled=True, grid=2, overlap=0.25) if args.tiling else None)
    trained = time.time()
    plain = evaluate(model, test_set)
    tiling = TilingSettings(enabled=True, grid=2, overlap=0.25)
    tiled = evaluate(model, test_set, tiling=tiling)
    crops = _background_crops(test_set, args.seed)
    crop_scores = model.scores(crops, tiling=tiling if args.tiling else None)
    import numpy as np

    background = metrics_from_scores(np.zeros_like(crop_scores), crop_scores, model.classes, model.thresholds)
    if args.out:
        model.save(args.out)
    keys = ("macro_average_precision", "brand_top1_accuracy", "nologo_false_positive_rate",
            "micro_precision", "micro_recall", "photos", "nologo_photos")
    print(json.dumps({
        "backbone": "mobilenet_v1_025", "input_size": args.input_size, "views": args.views,
        "options": {k: v for k, v in vars(args).items() if k not in ("shared", "cache", "out")},
        "thresholds_calibrated_on": "tiled 2x2 scores" if args.tiling else "whole-photo scores",
        "train_photos": len(train_set), "heldout_photos": len(test_set),
        "heldout": {k: plain[k] for k in keys},
        "heldout_tiled_2x2": {k: tiled[k] for k in keys},
        "heldout_background_crops_fp_rate": background["nologo_false_positive_rate"],
        "background_crops": len(crops),
        "validation_during_training": {k: model.metrics.get(k) for k in keys},
        "epochs_run": model.info["training"]["epochs_run"],
        "train_seconds": round(trained - started, 1), "total_seconds": round(time.time() - started, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
