"""The review loop on the demo: judge the stratified sample from the demo's truth, report before and after.

Run after `monitor demo --out DIR` (it needs DIR/config.yaml, DIR/truth/feed.csv and the demo database):

    python bench/review_demo.py DIR --photos 200 --seeds 1 2 3 4 5 6

Prints JSON lines: truth coverage and median interval widths of the corrected counts and lifts with the
bundle's held-out rates, then per seed, on a fresh copy of the database, after `review import` of the
analyst's verdicts on that seed's sample, with the audited rates (pooled with the held-out ones as far as
they agree), and the issue's acceptance: counts cover the truth in 11 of 12 cells and lifts in 7 of 8,
with a median count interval narrower than the held-out one. The demo's database is left alone.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's packages before this folder's scripts (bench/storage.py)

from sqlalchemy.engine import make_url  # noqa: E402

from monitor.config import load_settings  # noqa: E402
from monitor.demo.truth import check_report  # noqa: E402
from monitor.review.session import ReviewSession  # noqa: E402
from monitor.review.transfer import import_judgments  # noqa: E402
from reports.output import make_report  # noqa: E402
from storage.engine import open_database  # noqa: E402


def truth_by_sha256(root: Path) -> dict[str, set[str]]:
    """The brands each feed photo truly shows, by the sha256 of its file."""
    found = {}
    with (root / "truth" / "feed.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            brands = {b for b in row["brands"].split(";") if b}
            for path in filter(None, row["path"].split(";")):
                found[hashlib.sha256((root / path).read_bytes()).hexdigest()] = brands
    return found


def report_figures(root: Path, settings, out: Path) -> dict:
    """Write the campaign report into out and join it with the truth."""
    shutil.rmtree(out, ignore_errors=True)
    campaign = settings.campaigns[0].name
    report, _ = make_report(
        settings.database.url,
        out,
        ["csv"],
        campaign=campaign,
        configured=settings.campaigns,
        tracked=settings.brands.tracked,
    )
    check = check_report(root, out)
    counts, lifts = check.counts, check.lifts
    return {
        "rates": report.model_version["metrics"].get("error_rates", {}).get("detail"),
        "counts_covered": f"{int(counts['covered'].sum())}/{len(counts)}",
        "lifts_covered": f"{int(lifts['covered'].sum())}/{len(lifts)}",
        "count_median_width": float((counts["adjusted_high"] - counts["adjusted_low"]).median()),
        "lift_median_width": float((lifts["high"] - lifts["low"]).median()),
        "checks": {name: [ok, text] for name, (ok, text) in check.checks.items()},
    }


def play_analyst(root: Path, settings, photos: int, seed: int) -> dict:
    """Judge the first `photos` of the review queue from the truth, through `review import`."""
    truth = truth_by_sha256(root)
    db = open_database(settings.database.url)
    try:
        session = ReviewSession(db, seed=seed)
        chosen: list = []
        while len(chosen) < photos:
            session.refresh()
            fresh = [p for p in session.queue if p.image_id not in {c.image_id for c in chosen}]
            if not fresh:
                break
            chosen += fresh[: photos - len(chosen)]
            verdicts = root / "verdicts.csv"
            with verdicts.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["sha256", "brand", "present"])
                for photo in chosen:
                    for brand in session.brands:
                        writer.writerow([photo.sha256, brand, int(brand in truth.get(photo.sha256, set()))])
            result = import_judgments(db, verdicts, session.version_id, judged_by="bench analyst")
        plan = session.refresh()
        return {
            "judged": len(chosen),
            "stored": result.stored,
            "skipped": len(result.skipped),
            "strata": {s or "(none)": n for s, n in plan.judged.items()},
            "more_needed": plan.more_total,
        }
    finally:
        db.dispose()


def on_copy(settings, database: Path):
    """The settings pointed at a copy of the demo's database (migrated to the head), so each seed starts clean."""
    from storage.migrate import upgrade

    shutil.copyfile(Path(make_url(settings.database.url).database), database)
    url = f"sqlite:///{database}"
    upgrade(url)
    return settings.model_copy(update={"database": settings.database.model_copy(update={"url": url})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="Sample seeds, one analyst each.")
    args = parser.parse_args()
    root = args.root.resolve()
    settings = load_settings(root / "config.yaml")
    with tempfile.TemporaryDirectory() as scratch:
        before = report_figures(
            root, on_copy(settings, Path(scratch) / "held-out.db"), root / "review-bench" / "held-out"
        )
        print(json.dumps({"held_out": before}), flush=True)
        for seed in args.seeds:
            copy = on_copy(settings, Path(scratch) / f"seed-{seed}.db")
            analyst = play_analyst(root, copy, args.photos, seed)
            after = report_figures(root, copy, root / "review-bench" / f"audited-{seed}")
            covered = after["checks"]["counts"][0] and after["checks"]["lifts"][0]
            narrower = after["count_median_width"] < before["count_median_width"]
            verdict = {"covers": covered, "narrower": narrower, "both": covered and narrower}
            print(json.dumps({"seed": seed, "analyst": analyst, "audited": after, "acceptance": verdict}), flush=True)


if __name__ == "__main__":
    main()
