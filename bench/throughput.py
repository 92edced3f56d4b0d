"""Prediction throughput: JPEG files -> probabilities with InceptionV3 at 299 px (weights none).

Compares, in one run: our pipeline (parallel decode + resize in tf.data, overlapped with batched
inference through the backbone's inference copy: batch norm folded, in the resolved precision), the bare
Keras backbone in a tf.function on pre-decoded tensors at batch 32 (float32, as Keras builds it), the
same for the inference copy ("graph"), and naive loops with one call per photo: `model.predict` on the
Keras model (what plain code does) and our compiled function (what batching alone gains).
Also the per-photo cost of small-logo scorings on decoded photos, interleaved round by round: whole photo,
3x3 crops (ten backbone passes) and feature-map windows (one pass on the photo enlarged 1.5x / 2x).
Also the feature_windows pipeline on the files against the bare backbone at the enlarged size (--windows-pipeline).
Usage: python bench/throughput.py [--photos 256] [--precision auto|float32|bfloat16] [--windows-pipeline 1.5]
       python bench/throughput.py --only-scorings [--scoring-photos 16] [--rounds 3]   (about 3 minutes)
       python bench/throughput.py --only-windows-pipeline [--photos 96]   (its peak RSS alone in the process)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from photos import write_photos  # noqa: E402  (bench/photos.py, beside this script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=256)
    parser.add_argument("--naive-photos", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument(
        "--head",
        choices=["trained", "plain"],
        default="trained",
        help="trained: the head `monitor train` ships (avg+max pooling, mid-level block, 5 heads); "
        "plain: average pooling, one head",
    )
    parser.add_argument("--scoring-photos", type=int, default=16, help="photos per scoring round (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the scoring comparison")
    parser.add_argument("--window-scales", default="1.5,2", help="feature_windows scales to compare")
    parser.add_argument("--only-scorings", action="store_true", help="only the scoring comparison")
    parser.add_argument(
        "--only-windows-pipeline", action="store_true", help="only the feature_windows pipeline (and its peak RSS)"
    )
    parser.add_argument(
        "--windows-pipeline",
        type=float,
        default=1.5,
        help="also time feature_windows scoring of the files at this scale against the bare backbone on the "
        "enlarged photos (the same work); 0: skip",
    )
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from classifier.images import read_rgb
    from classifier.model import LogoClassifier

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_photos(Path(tmp), args.photos, style="scene", quality=88, name="photo-{i:04d}.jpg")
        head = (
            dict(pooling="avg_max", mid_level=True, ensemble=5)
            if args.head == "trained"
            else dict(pooling="avg", mid_level=False, ensemble=1)
        )
        start = time.perf_counter()
        model = LogoClassifier.create(
            ["a", "b", "c"], backbone="inception_v3", weights="none", input_size=299, precision=args.precision, **head
        )
        batch = args.batch_size
        if args.only_windows_pipeline:  # alone in the process, so the peak is this scoring's (batch --batch-size)
            print(json.dumps(windows_pipeline(model, paths, args), indent=2))
            return
        if args.only_scorings:
            result = compare_scorings(model, paths[: args.scoring_photos], args)
            result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            result["precision"] = model.compute_precision
            print(json.dumps(result, indent=2))
            return

        model.predict_files(paths[:batch], batch_size=batch)  # trace (and freeze the backbone) once
        first_batch_s = time.perf_counter() - start
        start = time.perf_counter()
        scores = model.predict_files(paths, batch_size=batch)
        pipeline = len(paths) / (time.perf_counter() - start)
        assert scores.shape == (len(paths), 3)

        decoded = np.stack(
            [np.asarray(tf.image.resize(read_rgb(p), [299, 299], method="area")) for p in paths[:batch]]
        ).astype(np.float32)
        tensor = tf.constant(decoded)
        bare = tf.function(lambda x: model.base(x, training=False))
        bare(tensor)
        graph = tf.function(lambda x: model.inference_backbone.model(x, training=False))
        scaled = tensor / 127.5 - 1.0
        graph(scaled)
        rounds = max(1, len(paths) // batch)

        def rate(fn, arg) -> float:
            start = time.perf_counter()
            for _ in range(rounds):
                [out.numpy() for out in tf.nest.flatten(fn(arg))]
            return rounds * batch / (time.perf_counter() - start)

        backbone, backbone_graph = rate(bare, tensor), rate(graph, scaled)

        naive_paths = paths[: args.naive_photos]
        model.model.predict(decoded[:1], verbose=0)
        start = time.perf_counter()
        for path in naive_paths:
            image = np.asarray(tf.image.resize(read_rgb(path), [299, 299], method="area"))[None]
            model.model.predict(image, verbose=0)
        naive = len(naive_paths) / (time.perf_counter() - start)

        scores_fn = model._fn("scores")
        scores_fn(decoded[:1])
        start = time.perf_counter()
        for path in naive_paths:
            image = np.asarray(tf.image.resize(read_rgb(path), [299, 299], method="area"))[None]
            scores_fn(image).numpy()
        naive_graph = len(naive_paths) / (time.perf_counter() - start)
        scorings = compare_scorings(model, paths[: args.scoring_photos], args) if args.scoring_photos else None
        windows = windows_pipeline(model, paths, args) if args.windows_pipeline else None

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "photos": len(paths),
                "input_size": 299,
                "batch_size": batch,
                "backbone": "inception_v3 (weights none)",
                "head": head,
                "precision": model.compute_precision,
                "first_batch_s": round(first_batch_s, 2),
                "pipeline_images_per_s": round(pipeline, 2),
                "backbone_images_per_s": round(backbone, 2),
                "backbone_graph_images_per_s": round(backbone_graph, 2),
                "naive_images_per_s": round(naive, 2),
                "naive_graph_images_per_s": round(naive_graph, 2),
                "pipeline_vs_backbone": round(pipeline / backbone, 3),
                "pipeline_vs_backbone_graph": round(pipeline / backbone_graph, 3),
                "pipeline_vs_naive": round(pipeline / naive, 2),
                "pipeline_vs_naive_graph": round(pipeline / naive_graph, 2),
                "peak_rss_mb": round(peak, 1),
                "scorings": scorings,
                "windows_pipeline": windows,
            },
            indent=2,
        )
    )


def windows_pipeline(model, paths: list, args) -> dict:
    """Files -> feature_windows scores (decode and resize a batch ahead, one enlarged pass, head on windows)
    against the bare Keras backbone at the enlarged size on pre-decoded tensors: the same backbone work."""
    import numpy as np
    import tensorflow as tf

    from classifier.backbones import build_backbone
    from classifier.images import read_rgb
    from classifier.tiling import Tiling
    from classifier.windows import window_function

    tiling = Tiling(True, 3, 0.25, "feature_windows", args.windows_pipeline)
    side, batch = tiling.pass_side(model.input_size), args.batch_size
    rss = {"start": rss_mb()}
    window_function(model, tiling)  # the inference copy at the enlarged size (and, for auto, the precision probe)
    rss["after_build"] = rss_mb()
    model.scores((read_rgb(p) for p in paths[:batch]), tiling=tiling, batch_size=batch)  # trace once
    rss["after_first_batch"] = rss_mb()
    start = time.perf_counter()
    scores = model.scores((read_rgb(p) for p in paths), tiling=tiling, batch_size=batch)
    pipeline = len(paths) / (time.perf_counter() - start)
    assert scores.shape == (len(paths), len(model.classes))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the bare copy below is built
    big = build_backbone(model.backbone, "none", side)
    pixels = tf.constant(
        np.stack([np.asarray(tf.image.resize(read_rgb(p), [side, side], method="area")) for p in paths[:batch]]) / 127.5
        - 1.0,
        dtype=tf.float32,
    )
    bare = tf.function(lambda x: big(x, training=False))
    bare(pixels)
    rounds = max(1, len(paths) // batch)
    start = time.perf_counter()
    for _ in range(rounds):
        bare(pixels).numpy()
    backbone = rounds * batch / (time.perf_counter() - start)
    return {
        "scale": tiling.scale,
        "pass_side": side,
        "pipeline_images_per_s": round(pipeline, 2),
        "backbone_images_per_s": round(backbone, 2),
        "pipeline_vs_backbone": round(pipeline / backbone, 3),
        "peak_rss_mb_so_far": round(peak, 1),
        "rss_mb": rss,
    }


def rss_mb() -> float:
    """This process's resident memory now, in MB (/proc/self/status; TensorFlow's own allocations included)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def compare_scorings(model, paths: list, args) -> dict:
    """Seconds per photo of each scoring on the same decoded photos, interleaved; medians over rounds."""
    import numpy as np

    from classifier.images import read_rgb
    from classifier.tiling import Tiling

    photos = [read_rgb(p) for p in paths]
    scorings = {"whole": None, "crops_3x3": Tiling(True, 3, 0.25)}
    for scale in args.window_scales.split(","):
        scorings[f"windows_3x3@{float(scale):g}"] = Tiling(True, 3, 0.25, "feature_windows", float(scale))
    batch = args.batch_size
    for tiling in scorings.values():  # trace each once, outside the timing
        model.scores(photos[:batch], tiling=tiling, batch_size=batch)
    seconds: dict[str, list[float]] = {name: [] for name in scorings}
    for _ in range(args.rounds):
        for name, tiling in scorings.items():
            start = time.perf_counter()
            model.scores(photos, tiling=tiling, batch_size=batch)
            seconds[name].append((time.perf_counter() - start) / len(photos))
    per_photo = {name: float(np.median(values)) for name, values in seconds.items()}
    return {
        "photos": len(photos),
        "rounds": args.rounds,
        "batch_size": batch,
        "seconds_per_photo": {k: round(v, 4) for k, v in per_photo.items()},
        "cost_vs_whole": {k: round(v / per_photo["whole"], 2) for k, v in per_photo.items()},
        "round_seconds_per_photo": {k: [round(x, 4) for x in v] for k, v in seconds.items()},
    }


if __name__ == "__main__":
    main()
