"""Training speed: head training on cached backbone features vs the frozen-backbone model end to end.

Same photos, same epochs (20), one run. Usage: python bench/train_speed.py [--photos 960] [--size 128]
The cached side's fixed costs (tracing two functions, building the backbone's inference copy) take about
2 s whatever the set's size: at 240 photos they hold the ratio near 5x (4.7-5.3 seen), at 960 it was 8.4x.
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
from photos import write_photos  # noqa: E402  (bench/photos.py, beside this script)

BRANDS = ("Acme", "Bolt", "Corona")


def write_set(root: Path, per_class: int) -> None:
    """Coloured discs (three brands) and empty scenes on noisy backgrounds."""
    colours = {"Acme": (220, 30, 30), "Bolt": (30, 60, 220), "Corona": (20, 180, 40)}
    for k, name in enumerate((*BRANDS, "none")):
        write_photos(
            root / name,
            per_class,
            first_seed=k * per_class,
            size=(320, 240),
            style="noise",
            quality=90,
            mark=colours.get(name),
            name="{i}.jpg",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=960)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--precision",
        default="float32",
        choices=["auto", "float32", "bfloat16"],
        help="of the cached features (float32: the gain from caching alone)",
    )
    args = parser.parse_args()

    import keras
    import numpy as np

    from classifier.augment import augment_params
    from classifier.dataset import load_dataset
    from classifier.features import FeatureCache, Item
    from classifier.images import read_rgb
    from classifier.model import LogoClassifier

    with tempfile.TemporaryDirectory() as tmp:
        write_set(Path(tmp) / "data", args.photos // 4)
        dataset = load_dataset(Path(tmp) / "data", progress=False)
        labels = dataset.labels()
        photos = [read_rgb(e.path) for e in dataset.examples]

        # cached: backbone once (features to disk), then the head for N epochs
        cached_model = LogoClassifier.create(
            dataset.classes, backbone="mobilenet_v2", weights="none", input_size=args.size, precision=args.precision
        )
        start = time.perf_counter()
        cache = FeatureCache(Path(tmp) / "cache", cached_model, augment_params(None, views=1))
        features = cache.features([Item(e, e.brands) for e in dataset.examples], 1, progress=False)[:, 0]
        features_seconds = time.perf_counter() - start
        cached_model.set_feature_statistics(features)
        cached_model.head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        cached_model.head.fit(features, labels, epochs=args.epochs, batch_size=32, verbose=0)
        cached = time.perf_counter() - start

        # end to end: the whole model (frozen backbone) on the same photos for N epochs
        full = LogoClassifier.create(dataset.classes, backbone="mobilenet_v2", weights="none", input_size=args.size)
        start = time.perf_counter()
        import tensorflow as tf

        pixels = np.stack([np.asarray(tf.image.resize(p, [args.size, args.size], method="area")) for p in photos])
        full.model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        full.model.fit(pixels, labels, epochs=args.epochs, batch_size=32, verbose=0)
        end_to_end = time.perf_counter() - start

    print(
        json.dumps(
            {
                "photos": len(photos),
                "epochs": args.epochs,
                "backbone": f"mobilenet_v2 (weights none) at {args.size} px",
                "cached_features_precision": cached_model.compute_precision,
                "cached_features_seconds": round(cached, 2),
                "of_which_features_seconds": round(features_seconds, 2),
                "end_to_end_seconds": round(end_to_end, 2),
                "speedup": round(end_to_end / cached, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
