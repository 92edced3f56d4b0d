"""Training memory: peak RSS of train() on whole-photo features vs feature-map windows, each in a fresh process.

Same photos (coloured discs on noise, three brands and no-logo, from bench/train_speed.py), the default backbone
untrained (InceptionV3, `weights=None`: the real feature width, 5632 with avg_max + mid-level pooling), the
default recipe except a few epochs (memory does not grow with epochs). Prints JSON: per scoring the peak RSS,
the feature array's size as training holds it (items x views x [windows x] width x 2 or 4 bytes) and the wall time.
Usage: python bench/train_memory.py [--photos 600] [--backbone inception_v3] [--size 299] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import write_set  # noqa: E402  (bench/train_speed.py, beside this script)

SCORINGS = ("whole", "feature_windows")


def child(args) -> dict:
    """(In a fresh process) train once with `args.child` scoring; its peak RSS and the feature array's size."""
    from classifier.augment import augment_params
    from classifier.dataset import load_dataset
    from classifier.features import FeatureCache
    from classifier.tiling import Tiling
    from classifier.train import train

    dataset = load_dataset(args.data, progress=False)
    tiling = Tiling(True, 3, 0.25, "feature_windows", 1.5) if args.child == "feature_windows" else None
    started = time.perf_counter()
    model = train(
        dataset,
        backbone=args.backbone,
        weights=None,
        input_size=args.size,
        epochs=args.epochs,
        cache_dir=args.cache,
        tiling=tiling,
        progress=False,
    )
    seconds = time.perf_counter() - started
    record = model.info["training"]
    windows = len(tiling.boxes()) if tiling else 1
    stored = FeatureCache(args.cache, model, augment_params(None, views=record["views"]), tiling).dtype.itemsize
    feature_bytes = record["items"] * record["views"] * windows * model.feature_dim * stored
    return {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "items": record["items"],
        "views": record["views"],
        "feature_width": model.feature_dim,
        "features_mb": round(feature_bytes / 2**20, 1),
        "train_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=600)
    parser.add_argument("--backbone", default="inception_v3")
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--child", choices=SCORINGS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        write_set(Path(tmp) / "data", args.photos // 4)
        for scoring in SCORINGS:  # a cold cache each: computing the features is part of the peak
            command = [sys.executable, __file__, "--child", scoring, "--data", f"{tmp}/data", "--cache"]
            command += [f"{tmp}/cache-{scoring}", "--backbone", args.backbone, "--size", str(args.size)]
            command += ["--epochs", str(args.epochs)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            results[scoring] = json.loads(out.strip().splitlines()[-1])
    print(json.dumps({"photos": args.photos, "backbone": args.backbone, "input_size": args.size, **results}))


if __name__ == "__main__":
    main()
