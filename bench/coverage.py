"""How often the demo's truth check can pass when the report's intervals are exactly right: simulated demo worlds.

The demo's acceptance asks, per seed, that corrected counts cover the truth in 11 of 12 brand x window cells
and lifts in 7 of 8. Even 95% intervals that are perfectly calibrated miss a cell in 20 now and then, and a
brand's three windows share its measured error rates, so one unlucky held-out draw can cost three cells at
once. This bench draws worlds shaped like the demo's (4 brands, 3 windows of about 1,500 photos, photo by
photo with two-logo photos, held-out sets of the demo's size), where the model behaves exactly as the
correction assumes, and measures per-cell coverage and the share of worlds passing each check:

    python bench/coverage.py --worlds 400

Prints one JSON line. `--holdout-scale 2` doubles every held-out set (what more labelled photos buy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reports.correction import correct, count_table  # noqa: E402
from reports.error_rates import read_error_rates  # noqa: E402
from reports.estimates import corrected_lifts  # noqa: E402

WINDOWS = ["before", "during", "after"]
# Per brand: the share of feed photos showing it per window (about the demo's), and the model's rates:
# recall alone, recall beside another logo, false alarms on no-logo photos and on other brands' photos.
PREVALENCE = {
    "Acme": (0.094, 0.197, 0.113),
    "Hexo": (0.104, 0.113, 0.103),
    "Trelo": (0.064, 0.098, 0.152),
    "Zorb": (0.053, 0.061, 0.060),
}
MODEL = {
    "Acme": (0.98, 0.92, 0.008, 0.010),
    "Hexo": (0.98, 0.93, 0.008, 0.004),
    "Trelo": (0.96, 0.90, 0.012, 0.006),
    "Zorb": (0.99, 0.95, 0.006, 0.004),
}
IMAGES = 1500
HOLDOUT = {"alone": 90, "pair": 30, "nologo": 500, "other": 295}  # per brand, as the demo measures them


def _feed(rng: np.random.Generator, brands: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth (B, W), observed (B, W), images (W,)): photos drawn one by one, brands shown independently."""
    truth = np.zeros((len(brands), len(WINDOWS)))
    observed = np.zeros_like(truth)
    for j in range(len(WINDOWS)):
        shown = rng.random((IMAGES, len(brands))) < np.array([PREVALENCE[b][j] for b in brands])
        logos = shown.sum(axis=1, keepdims=True)
        alone, pair, none, other = (np.array([MODEL[b][k] for b in brands]) for k in range(4))
        chance = np.where(shown, np.where(logos > 1, pair, alone), np.where(logos == 0, none, other))
        found = rng.random(shown.shape) < chance
        truth[:, j], observed[:, j] = shown.sum(axis=0), found.sum(axis=0)
    return truth, observed, np.full(len(WINDOWS), IMAGES)


def _metrics(rng: np.random.Generator, brands: list[str], scale: float) -> dict:
    """Held-out counts as the demo's evaluation would give them, in the bundle's error_rates structure."""
    entries = {}
    n = {k: int(round(v * scale)) for k, v in HOLDOUT.items()}
    for b in brands:
        alone, pair, none, other = MODEL[b]
        tp_alone, tp_pair = rng.binomial(n["alone"], alone), rng.binomial(n["pair"], pair)
        fp_none, fp_other = rng.binomial(n["nologo"], none), rng.binomial(n["other"], other)
        entries[b] = {
            "tp": int(tp_alone + tp_pair),
            "positives": n["alone"] + n["pair"],
            "tp_pair": int(tp_pair),
            "positives_pair": n["pair"],
            "fp": int(fp_none + fp_other),
            "negatives": n["nologo"] + n["other"],
            "fp_nologo": int(fp_none),
            "negatives_nologo": n["nologo"],
        }
    block = {"method": "split", "detail": "simulated", "photos": 0, "source": "bench", "brands": entries}
    return {"error_rates": block}


def run(worlds: int, scale: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    brands = list(PREVALENCE)
    cells, lifts, count_pass, lift_pass, both = [], [], 0, 0, 0
    for world in range(worlds):
        truth, observed, images = _feed(rng, brands)
        totals = pd.DataFrame(
            [
                {"window": w, "brand": b, "photos": observed[i, j], "images": images[j]}
                for i, b in enumerate(brands)
                for j, w in enumerate(WINDOWS)
            ]
        )
        c = correct(totals, read_error_rates(_metrics(rng, brands, scale)), brands, WINDOWS, seed=world, draws=2000)
        table = count_table(c).set_index(["brand", "window"])
        hit = [
            table.loc[(b, w), "adjusted_low"] <= truth[i, j] <= table.loc[(b, w), "adjusted_high"]
            for i, b in enumerate(brands)
            for j, w in enumerate(WINDOWS)
        ]
        lift = {(b, w): truth[i, j] / truth[i, 0] for i, b in enumerate(brands) for j, w in enumerate(WINDOWS)}
        rows = corrected_lifts(c).itertuples()
        lift_hit = [r.corrected_ci_low <= lift[(r.brand, r.window)] <= r.corrected_ci_high for r in rows]
        cells += hit
        lifts += lift_hit
        ok_counts, ok_lifts = sum(hit) >= len(hit) - 1, sum(lift_hit) >= len(lift_hit) - 1
        count_pass += ok_counts
        lift_pass += ok_lifts
        both += ok_counts and ok_lifts
    return {
        "worlds": worlds,
        "holdout_scale": scale,
        "count_coverage": round(float(np.mean(cells)), 4),
        "lift_coverage": round(float(np.mean(lifts)), 4),
        "worlds_counts_11_of_12": round(count_pass / worlds, 3),
        "worlds_lifts_7_of_8": round(lift_pass / worlds, 3),
        "worlds_both": round(both / worlds, 3),
        "four_seeds_all_pass": round((both / worlds) ** 4, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=400)
    parser.add_argument("--holdout-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    result = run(args.worlds, args.holdout_scale, args.seed)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
