"""Are the bundle's error rates and calibrated probabilities honest on real photos never seen in training?

Trains `monitor train`'s recipe on the shared FlickrLogos-27 photos (MobileNet v1 0.25, ImageNet weights file),
then, on a held-out split: each brand's recall and false-positive rate at the stored thresholds against the
cross-fitted rates stored at training (pooled over brands, with the counts), and the reliability of the
calibrated scores against the raw ones (worst gap between mean score and observed share over score bands).
Usage: python bench/calibration.py [--input-size 224] [--views 1] [--seed 0]
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


def _pooled(brands: dict) -> dict:
    tp, pos = sum(b["tp"] for b in brands.values()), sum(b["positives"] for b in brands.values())
    fp, neg = sum(b["fp"] for b in brands.values()), sum(b["negatives"] for b in brands.values())
    return {
        "recall": round(tp / max(pos, 1), 4),
        "tp": tp,
        "positives": pos,
        "fpr": round(fp / max(neg, 1), 4),
        "fp": fp,
        "negatives": neg,
    }


def _worst_gap(bins: list, least: int) -> float:
    gaps = [abs(b["mean_score"] - b["observed"]) for b in bins if b["pairs"] >= least]
    return round(max(gaps), 4) if gaps else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bench-calibration-cache")
    args = parser.parse_args()

    data = args.shared / "data" / "flickrlogos27-train"
    scenes = args.shared / "data" / "scenes-nologo"
    weights = args.shared / "weights" / "mobilenet_2_5_224_tf_no_top.h5"
    if not (data.is_dir() and scenes.is_dir() and weights.is_file()):
        print(json.dumps({"skipped": f"real data not found under {args.shared}"}))
        return

    from classifier.dataset import load_dataset
    from classifier.error_rates import at_thresholds
    from classifier.evaluate import reliability
    from classifier.images import read_rgb
    from classifier.train import train

    started = time.time()
    dataset = load_dataset(data, negatives=[scenes], boxes_csv=data / "boxes.csv", progress=False)
    train_set, test_set = dataset.split(args.test_fraction, seed=1000 + args.seed)
    model = train(
        train_set,
        backbone="mobilenet_v1_025",
        weights=str(weights),
        input_size=args.input_size,
        epochs=args.epochs,
        views=args.views,
        seed=args.seed,
        cache_dir=args.cache,
        progress=False,
    )
    photos = [read_rgb(e.path) for e in test_set.examples]
    calibrated = model.scores(photos)
    raw = model.scores(photos, raw=True)
    labels = test_set.labels(model.classes)
    held_out = at_thresholds(labels, calibrated, model.classes, model.thresholds, None)
    stored = model.metrics["error_rates"]
    print(
        json.dumps(
            {
                "train_photos": len(train_set),
                "validation_photos": stored["photos"],
                "heldout_photos": len(test_set),
                "input_size": args.input_size,
                "views": args.views,
                "calibration": model.metrics["calibration"]["method"],
                "calibration_check": model.metrics["calibration"]["check"],
                "rates_stored_at_training_cross_fit": _pooled(stored["brands"]),
                "rates_on_heldout_photos_at_stored_thresholds": _pooled(held_out["brands"]),
                "reliability_worst_gap_heldout": {
                    "calibrated": _worst_gap(reliability(labels, calibrated), 30),
                    "raw": _worst_gap(reliability(labels, raw), 30),
                },
                "reliability_heldout_calibrated": [
                    {k: (round(v, 3) if isinstance(v, float) else v) for k, v in b.items()}
                    for b in reliability(labels, calibrated)
                    if b["pairs"]
                ],
                "seconds": round(time.time() - started, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
