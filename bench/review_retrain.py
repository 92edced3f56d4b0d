"""Do exported review corrections retrain? The demo's model trained without and with `review export`.

Run after `monitor demo --out DIR`:

    python bench/review_retrain.py DIR --photos 200 --uncertain 300 --seeds 0 1

On a copy of the demo's database an analyst (played from the demo's truth, through `review import`)
judges the stratified sample (--photos) and the least certain photos (--uncertain, training only);
`review export` writes them as training folders. The demo's small network is then trained from scratch
twice per seed, the way the demo trains it: on DIR/train, and on DIR/train plus the export. Both are
scored on the same photos: the held-out test half (thresholds are chosen on the other half), and every
feed photo nobody judged (thousands, the feed's own look). Prints JSON: what the export holds (no-logo
photos, hard negatives: detected with a brand the analyst said is absent) and per seed the no-logo
false-alarm rate with its count and 95% interval (Wilson), before and after.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's packages before this folder's scripts (bench/storage.py)

from review_demo import on_copy, play_analyst, truth_by_sha256  # noqa: E402

from classifier.dataset import load_dataset  # noqa: E402
from classifier.evaluate import evaluate  # noqa: E402
from classifier.scratch import train_from_scratch  # noqa: E402
from monitor.config import load_settings  # noqa: E402
from monitor.demo.model import PLANS  # noqa: E402
from monitor.review.session import ReviewSession  # noqa: E402
from monitor.review.transfer import export_judgments  # noqa: E402
from storage import judgments as store  # noqa: E402
from storage.engine import open_database  # noqa: E402


def wilson(hits: int, trials: int) -> list[float] | None:
    """The 95% Wilson interval of hits / trials."""
    if not trials:
        return None
    p, z = hits / trials, 1.96
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return [round(centre - half, 4), round(centre + half, 4)]


def judge_uncertain(root: Path, settings, count: int) -> int:
    """Judge the `count` least certain photos (training only) from the truth, through `review import`."""
    if count <= 0:
        return 0
    truth = truth_by_sha256(root)
    db = open_database(settings.database.url)
    try:
        session = ReviewSession(db, mode="uncertain")
        verdicts = root / "uncertain-verdicts.csv"
        with verdicts.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sha256", "brand", "present"])
            for photo in session.queue[:count]:
                for brand in session.brands:
                    writer.writerow([photo.sha256, brand, int(brand in truth.get(photo.sha256, set()))])
        from monitor.review.transfer import import_judgments

        import_judgments(db, verdicts, session.version_id, mode="uncertain", judged_by="bench analyst")
        return min(count, len(session.queue))
    finally:
        db.dispose()


def export_summary(settings, out: Path, truth: dict[str, set[str]]) -> dict:
    """Export the judgments; count the no-logo photos and the hard negatives among them."""
    db = open_database(settings.database.url)
    try:
        exported = export_judgments(db, out)
        frame = {p.sha256: p for p in store.sample_frame(db, store.newest_model_version(db))}
        judged = {r["sha256"] for r in store.judgments(db)}
    finally:
        db.dispose()
    nologo = [p.stem for p in (out / "none").glob("*")] if (out / "none").is_dir() else []
    wrong = 0  # exported files whose folder the demo's truth contradicts (the analyst plays the truth: 0)
    for folder in out.iterdir():
        for path in folder.glob("*"):
            shown = truth.get(path.stem, set())
            wrong += bool(shown) if folder.name == "none" else folder.name not in shown
    hard = sum(1 for sha in judged if sha in frame and set(frame[sha].detected) - truth.get(sha, set()))
    return {
        "written": exported.written,
        "from_thumbnail": exported.from_thumbnail,
        "nologo_photos": len(nologo),
        "nologo_detected_with_a_brand": sum(1 for sha in nologo if frame.get(sha) and frame[sha].detected),
        "photos_with_a_wrong_detection": hard,
        "files_against_truth": wrong,
        "judged": judged,
    }


def feed_labels(root: Path, judged: set[str], out: Path) -> Path:
    """A labels CSV (path,brands) of every feed photo nobody judged: held out from training."""
    rows = []
    with (root / "truth" / "feed.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            brands = sorted(b for b in row["brands"].split(";") if b)
            for path in filter(None, row["path"].split(";")):
                if hashlib.sha256((root / path).read_bytes()).hexdigest() not in judged:
                    rows.append([str(root / path), "|".join(brands)])
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "brands"])
        writer.writerows(rows)
    return out


def scores(metrics: dict) -> dict:
    """The false-alarm rate with its count and interval, and the rest of the headline figures."""
    n = int(metrics["nologo_photos"])
    hits = round((metrics["nologo_false_positive_rate"] or 0) * n)
    return {
        "nologo_false_alarms": f"{hits}/{n}",
        "nologo_false_positive_rate": round(hits / n, 4) if n else None,
        "interval": wilson(hits, n),
        "micro_recall": round(metrics["micro_recall"], 4),
        "macro_average_precision": round(metrics["macro_average_precision"], 4),
    }


def at_fixed_recall(scores, labels, recall: float = 0.8) -> dict:
    """The no-logo false-alarm rate with each brand's threshold set where it finds `recall` of its photos:
    how well the model separates, apart from where calibration on drawn photos put its thresholds."""
    import numpy as np

    labels = labels.astype(bool)
    cut = np.array(
        [
            np.quantile(scores[labels[:, i], i], 1 - recall) if labels[:, i].any() else 1.0
            for i in range(scores.shape[1])
        ]
    )
    nologo = ~labels.any(axis=1)
    hits = int((scores[nologo] >= cut).any(axis=1).sum())
    return {"nologo_false_alarms": f"{hits}/{int(nologo.sum())}", "interval": wilson(hits, int(nologo.sum()))}


def train_and_score(train_dir: Path, holdout: Path, feed: Path, seed: int, plan) -> dict:
    """Train as the demo does (thresholds on one half of the held-out photos), score the other half and the feed."""
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
    feed_set, kept = load_dataset(labels_csv=feed, progress=False), []
    return {
        "train_photos": len(train_set),
        "seconds": round(time.perf_counter() - started, 1),
        "thresholds": {brand: round(float(value), 3) for brand, value in model.thresholds.items()},
        "held_out_test_half": scores(evaluate(model, test)),
        "unjudged_feed": scores(evaluate(model, feed_set, keep_scores=kept)),
        "unjudged_feed_at_recall_0.8": at_fixed_recall(kept[0], feed_set.labels(model.classes)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--photos", type=int, default=200, help="Judged photos of the stratified sample.")
    parser.add_argument("--uncertain", type=int, default=300, help="Judged least certain photos (training only).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--plan", default="full", choices=sorted(PLANS))
    parser.add_argument(
        "--negatives-only",
        action="store_true",
        help="Also train on DIR/train plus only the export's none/ folder (what the judged logo-free photos do alone).",
    )
    args = parser.parse_args()
    root, plan = args.root.resolve(), PLANS[args.plan]
    settings = load_settings(root / "config.yaml")
    truth = truth_by_sha256(root)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        copy = on_copy(settings, scratch / "judged.db")
        analyst = play_analyst(root, copy, args.photos, seed=0)
        uncertain = judge_uncertain(root, copy, args.uncertain)
        export = export_summary(copy, scratch / "export", truth)
        feed = feed_labels(root, export.pop("judged"), scratch / "feed-unjudged.csv")
        combined = scratch / "train"
        shutil.copytree(root / "train", combined)
        shutil.copytree(scratch / "export", combined, dirs_exist_ok=True)
        negatives = scratch / "train-negatives"
        shutil.copytree(root / "train", negatives)
        if (scratch / "export" / "none").is_dir():
            shutil.copytree(scratch / "export" / "none", negatives / "none", dirs_exist_ok=True)
        print(json.dumps({"sample": analyst, "uncertain_judged": uncertain, "export": export}), flush=True)
        for seed in args.seeds:
            before = train_and_score(root / "train", root / "holdout", feed, seed, plan)
            print(json.dumps({"seed": seed, "original": before}), flush=True)
            after = train_and_score(combined, root / "holdout", feed, seed, plan)
            print(json.dumps({"seed": seed, "with_corrections": after}), flush=True)
            if args.negatives_only:
                alone = train_and_score(negatives, root / "holdout", feed, seed, plan)
                print(json.dumps({"seed": seed, "with_judged_negatives_only": alone}), flush=True)


if __name__ == "__main__":
    main()
