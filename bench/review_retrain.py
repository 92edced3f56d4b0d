"""Do exported review corrections retrain? The demo's model trained without and with `review export`.

Run after `monitor demo --out DIR` and judgments of its feed (e.g. bench/review_demo.py DIR):

    python bench/review_retrain.py DIR

Trains the demo's small network from scratch twice, the same way the demo does (same seed and plan):
on DIR/train, then on DIR/train plus the photos `review export` writes; prints JSON with the
no-logo false-alarm rate (and the rest of the evaluation) on the same held-out photos.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's packages before this folder's scripts (bench/storage.py)

from classifier.dataset import load_dataset  # noqa: E402
from classifier.evaluate import evaluate  # noqa: E402
from classifier.scratch import train_from_scratch  # noqa: E402
from monitor.demo.model import PLANS  # noqa: E402
from monitor.review.transfer import export_judgments  # noqa: E402
from storage.engine import open_database  # noqa: E402

KEYS = ("nologo_false_positive_rate", "macro_average_precision", "brand_top1_accuracy")


def train_and_score(train_dir: Path, holdout: Path, seed: int, plan) -> dict:
    """Train as the demo does, thresholds on one half of the held-out photos, scored on the other half."""
    calibration, test = load_dataset(holdout, progress=False).split(0.5, seed)
    train_set = load_dataset(train_dir, progress=False)
    started = time.perf_counter()
    model = train_from_scratch(
        train_set,
        backbone=plan.backbone,
        input_size=plan.input_size,
        epochs=plan.epochs,
        views=plan.views,
        batch_size=plan.batch_size,
        learning_rate=plan.learning_rate,
        seed=seed,
        valid_set=calibration,
    )
    metrics = evaluate(model, test)
    return {
        "train_photos": len(train_set),
        "seconds": round(time.perf_counter() - started, 1),
        **{key: metrics[key] for key in KEYS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plan", default="full", choices=sorted(PLANS))
    args = parser.parse_args()
    root, plan = args.root.resolve(), PLANS[args.plan]
    with tempfile.TemporaryDirectory() as scratch:
        combined = Path(scratch) / "train"
        shutil.copytree(root / "train", combined)
        db = open_database(f"sqlite:///{root / 'monitor.db'}")
        try:
            exported = export_judgments(db, Path(scratch) / "export")
        finally:
            db.dispose()
        shutil.copytree(Path(scratch) / "export", combined, dirs_exist_ok=True)
        before = train_and_score(root / "train", root / "holdout", args.seed, plan)
        after = train_and_score(combined, root / "holdout", args.seed, plan)
    print(json.dumps({"exported": exported.written, "original": before, "with_corrections": after}, indent=2))


if __name__ == "__main__":
    main()
