"""Accuracy on real photos: MobileNet v1 0.25 (shared ImageNet weights) on FlickrLogos-27 + no-logo scenes.

Usage: python bench/accuracy.py [--shared ../shared] [--input-size 320] [--views 4] [--grid 3] [--seed 0]
                                [--select [--select-seed N]] [--dump scores.npz] (--help lists the recipe's knobs)
Prints JSON: held-out macro AP, brand top-1, no-logo false-positive rate at the stored thresholds,
micro precision/recall, with and without tiling; plus the false-positive rate on logo-free crops of
held-out logo photos (ordinary Flickr backgrounds, not only scenes). Choose settings with --select
(evaluates on a split of the training photos), then report the held-out numbers once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
SCORE_KEYS = (
    "macro_average_precision",
    "brand_top1_accuracy",
    "nologo_false_positive_rate",
    "micro_precision",
    "micro_recall",
)


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
    parser.add_argument("--ensemble", type=int, default=5, help="heads trained on their own seeds, scores averaged")
    parser.add_argument(
        "--fine-tune", type=int, default=0, help="also fine-tune the top N weighted backbone layers (whole photos)"
    )
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument("--fine-tune-learning-rate", type=float, default=1e-5)
    parser.add_argument("--context-crops", type=int, default=3)
    parser.add_argument("--hard-negatives", type=int, default=2)
    parser.add_argument("--pooling", default="avg_max", help="avg | avg_max (global average and max pooling)")
    parser.add_argument(
        "--mid-level",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also pool the backbone's intermediate block",
    )
    parser.add_argument(
        "--tile-crops",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also train on the predict-time tiles of the boxed photos, labelled from the boxes",
    )
    parser.add_argument(
        "--calibration-crops",
        type=int,
        default=2,
        help="logo-free crops per boxed validation photo added to threshold calibration",
    )
    parser.add_argument(
        "--threshold-shrink",
        type=float,
        default=0.0,
        help="pull each brand's threshold toward the pooled one (weight in photos)",
    )
    parser.add_argument(
        "--select",
        action="store_true",
        help="choosing settings: evaluate on a split of the TRAINING photos, not the held-out split",
    )
    parser.add_argument("--select-seed", type=int, default=0, help="seed of that selection split")
    parser.add_argument(
        "--tiling",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="calibrate thresholds on tiled scores (default) or on whole-photo scores",
    )
    parser.add_argument("--grid", type=int, default=3, help="tiles per side (the whole photo is always scored too)")
    parser.add_argument(
        "--scoring",
        default="crops",
        choices=["crops", "feature_windows"],
        help="what the tiles are when --tiling: crops (a backbone pass each) or windows of one "
        "feature map of the photo enlarged --window-scale times (classifier.windows)",
    )
    parser.add_argument("--window-scale", type=float, default=1.5)
    parser.add_argument(
        "--window-positives",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="window training: also single-window positives (tiles a box lies mostly inside)",
    )
    parser.add_argument(
        "--window-views",
        type=int,
        default=2,
        help="window training (--compare windows@S): views per photo (each view is a bag of 10 windows)",
    )
    parser.add_argument(
        "--mined-windows",
        type=int,
        default=2,
        help="window training: lowest-scored tiles per unboxed logo photo mined as negatives",
    )
    parser.add_argument(
        "--compare",
        type=str,
        default="",
        help="also compare scorings, each with thresholds re-fit on the validation photos' own "
        "scores: comma list of whole, crops, windows@SCALE, or A+B for the mean of scorings listed "
        "before (e.g. whole,crops,windows@2,whole+windows@2); cascade@K looks closer at the K tiles the whole "
        "pass guesses best (bench/cascade.py; not with a windows-trained main head)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "float32", "bfloat16"],
        help="backbone arithmetic for features and prediction (auto keeps float32 here: bfloat16 "
        "moves MobileNet v1's features too far)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also save the trained bundle here")
    parser.add_argument("--dump", type=Path, default=None, help="also save validation and test scores here (.npz)")
    args = parser.parse_args()

    data = args.shared / "data" / "flickrlogos27-train"
    scenes = args.shared / "data" / "scenes-nologo"
    weights = args.shared / "weights" / "mobilenet_2_5_224_tf_no_top.h5"
    if not (data.is_dir() and scenes.is_dir() and weights.is_file()):
        print(
            json.dumps(
                {
                    "skipped": f"real data not found under {args.shared} (needs data/flickrlogos27-train, "
                    f"data/scenes-nologo, weights/mobilenet_2_5_224_tf_no_top.h5)"
                }
            )
        )
        return

    from classifier.evaluate import evaluate, metrics_from_scores
    from classifier.features import background_crops
    from classifier.images import read_rgb
    from classifier.tiling import Tiling
    from classifier.train import train

    started = time.time()
    train_set, test_set = shared_split(args.shared, args.test_fraction, args.seed, args.select, args.select_seed)
    recipe = dict(
        backbone="mobilenet_v1_025",
        weights=str(weights),
        input_size=args.input_size,
        epochs=args.epochs,
        views=args.views,
        seed=args.seed,
        cache_dir=args.cache,
        target_precision=args.target_precision,
        dropout=args.dropout,
        hidden=args.hidden,
        patience=args.patience,
        learning_rate=args.learning_rate,
        context_crops=args.context_crops,
        hard_negatives=args.hard_negatives,
        pooling=args.pooling,
        mid_level=args.mid_level,
        ensemble=args.ensemble,
        tile_crops=args.tile_crops,
        calibration_crops=args.calibration_crops,
        threshold_shrink=args.threshold_shrink,
        window_positives=args.window_positives,
        mined_windows=args.mined_windows,
        precision=args.precision,
        fine_tune=args.fine_tune,
        fine_tune_epochs=args.fine_tune_epochs,
        fine_tune_learning_rate=args.fine_tune_learning_rate,
        progress=False,
    )
    tiling = Tiling(True, args.grid, 0.25, args.scoring, args.window_scale) if args.tiling else None
    model = train(train_set, tiling=tiling, **recipe)
    trained = time.time()
    plain = evaluate(model, test_set)
    tiling = Tiling(True, args.grid, 0.25, args.scoring, args.window_scale)
    tiled_scores = model.scores((read_rgb(e.path) for e in test_set.examples), tiling=tiling)
    tiled = evaluate(model, test_set, tiling=tiling, scores=tiled_scores)
    crops = [item.pixels() for item in background_crops(test_set, 1, args.seed)]
    crop_scores = model.scores(crops, tiling=tiling if args.tiling else None)
    if args.dump:  # scores for trying threshold rules without retraining
        valid_set = train_set.split(0.2, args.seed)[1]  # the validation split train() made
        valid_crops = [item.pixels() for item in background_crops(valid_set, 2, args.seed)]
        np.savez(
            args.dump,
            valid_labels=valid_set.labels(model.classes),
            test_labels=test_set.labels(model.classes),
            valid_scores=model.scores((read_rgb(e.path) for e in valid_set.examples), tiling=tiling),
            valid_crop_scores=model.scores(valid_crops, tiling=tiling),
            test_scores=tiled_scores,
            test_crop_scores=crop_scores,
        )
    background = metrics_from_scores(np.zeros_like(crop_scores), crop_scores, model.classes, model.thresholds)
    if args.out:
        model.save(args.out)
    compared = compare(model, train_set, test_set, args, recipe) if args.compare else None
    grid = f"{args.grid}x{args.grid}"
    keys = (*SCORE_KEYS, "photos", "nologo_photos")
    print(
        json.dumps(
            {
                "backbone": "mobilenet_v1_025",
                "input_size": args.input_size,
                "views": args.views,
                "precision": model.compute_precision,
                "bfloat16_error": model.inference_backbone.bfloat16_error,
                "options": {k: v for k, v in vars(args).items() if k not in ("shared", "cache", "out", "dump")},
                "thresholds_calibrated_on": f"{tiling.describe()} scores" if args.tiling else "whole-photo scores",
                "evaluated_on": "selection split of the training photos" if args.select else "held-out photos",
                "train_photos": len(train_set),
                "heldout_photos": len(test_set),
                "heldout": {k: plain[k] for k in keys},
                f"heldout_{'tiled' if args.scoring == 'crops' else 'windows'}_{grid}": {k: tiled[k] for k in keys},
                "compared_scorings": compared,
                "heldout_background_crops_fp_rate": background["nologo_false_positive_rate"],
                "background_crops": len(crops),
                "validation_during_training": {k: model.metrics.get(k) for k in keys},
                "epochs_run": model.info["training"]["epochs_run"],
                "train_seconds": round(trained - started, 1),
                "total_seconds": round(time.time() - started, 1),
            },
            indent=2,
        )
    )


def shared_split(shared: Path, test_fraction: float, seed: int, select: bool = False, select_seed: int = 0):
    """(train, test) of the FlickrLogos-27 photos plus the no-logo scenes under `shared`: the held-out split,
    or with `select` a split of its training part (the held-out photos stay unseen while settings are chosen)."""
    from classifier.dataset import load_dataset

    data, scenes = shared / "data" / "flickrlogos27-train", shared / "data" / "scenes-nologo"
    dataset = load_dataset(data, negatives=[scenes], boxes_csv=data / "boxes.csv", progress=False)
    train_set, test_set = dataset.split(test_fraction, seed=1000 + seed)
    if select:
        train_set, test_set = train_set.split(test_fraction, seed=2000 + select_seed)
    return train_set, test_set


def compare(trained, train_set, test_set, args, recipe) -> dict:
    """Held-out figures per scoring, each with calibration and thresholds re-fit on its own validation scores.

    whole and crops score with the main model's head; windows@S with a head trained on those windows (train on
    what you score: trained here unless the main model is that one), windows@S:whole-head with the main head."""
    from cascade import cascade_scores  # bench/cascade.py, beside this script

    from classifier.images import read_rgb
    from classifier.tiling import Tiling
    from classifier.train import train

    valid_set = train_set.split(0.2, args.seed)[1]  # the validation split train() made
    heads: dict[float, object] = {}
    out: dict[str, dict] = {}
    raw: dict[str, tuple] = {}  # name: (validation scores, test scores, seconds), raw, for fusions
    for name in args.compare.split(","):
        name = name.strip()
        if "+" in name:  # a fusion of scorings listed before it: the mean of their raw probabilities
            parts = name.split("+")
            if any(part not in raw for part in parts):
                raise SystemExit(f"--compare: list each part of {name!r} before it")
            valid, test = (np.mean([raw[part][i] for part in parts], axis=0) for i in (0, 1))
            out[name] = refit_and_score(trained, valid_set, test_set, valid, test, None, args.seed)
            out[name]["scoring_seconds"] = round(sum(raw[part][2] for part in parts), 1)
            print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)
            continue
        spec, _, variant = name.partition(":")
        kind, _, scale = spec.partition("@")
        if kind not in ("whole", "crops", "windows", "cascade") or variant not in ("", "whole-head"):
            known = "whole, crops, windows@SCALE[:whole-head], cascade@K"
            raise SystemExit(f"--compare: unknown scoring {name!r} ({known})")
        model = trained
        if kind == "cascade" and args.tiling and args.scoring == "feature_windows":  # its looks are crops
            raise SystemExit(f"--compare {name}: the main head was trained on windows; use --scoring crops")
        if kind == "windows" and not variant:
            windows = Tiling(True, args.grid, 0.25, "feature_windows", float(scale or args.window_scale))
            was = (trained.info.get("training") or {}).get("tiling") or {}
            if not (was.get("head_trained_on") == "feature_windows" and float(was.get("scale", 0)) == windows.scale):
                if windows.scale not in heads:
                    started = time.time()
                    heads[windows.scale] = train(  # a windows head trains on frozen features
                        train_set, tiling=windows, **{**recipe, "views": args.window_views, "fine_tune": 0}
                    )
                    print(json.dumps({f"trained {name}": round(time.time() - started, 1)}), file=sys.stderr)
                model = heads[windows.scale]
        tiling = (
            None
            if kind == "whole"
            else Tiling(True, args.grid, 0.25)
            if kind in ("crops", "cascade")
            else Tiling(True, args.grid, 0.25, "feature_windows", float(scale or args.window_scale))
        )
        start = time.time()
        if kind == "cascade":
            valid, test = (cascade_scores(model, s.examples, int(scale or 2), args.grid) for s in (valid_set, test_set))
        else:
            valid = model.scores((read_rgb(e.path) for e in valid_set.examples), tiling=tiling, raw=True)
            test = model.scores((read_rgb(e.path) for e in test_set.examples), tiling=tiling, raw=True)
        seconds = time.time() - start
        raw[name] = (valid, test, seconds)
        out[name] = {
            **refit_and_score(model, valid_set, test_set, valid, test, tiling, args.seed),
            "scoring_seconds": round(seconds, 1),
        }
        print(json.dumps({name: out[name]}), file=sys.stderr, flush=True)  # kept if stopped later
    return out


def refit_and_score(model, valid_set, test_set, valid, test, tiling, seed: int) -> dict:
    """Held-out figures of raw test scores once calibration and thresholds are fit on the raw validation scores
    (the model's own fit is put back)."""
    from classifier.evaluate import metrics_from_scores
    from classifier.tail import finish_training

    kept = (model.info, model.calibration, model.thresholds, model.metrics)
    finish_training(model, labels=valid_set.labels(model.classes), scores=valid, training={}, tiling=tiling, seed=seed)
    found = metrics_from_scores(test_set.labels(model.classes), model.calibrated(test), model.classes, model.thresholds)
    model.info, model.calibration, model.thresholds, model.metrics = kept
    return {k: found[k] for k in SCORE_KEYS}


if __name__ == "__main__":
    main()
