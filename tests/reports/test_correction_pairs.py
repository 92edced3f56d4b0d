"""Recall that drops when a logo shares the frame: counted apart, and each window corrected with its own mix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from classifier.error_rates import counts
from reports.correction import correct, count_table
from reports.error_rates import read_error_rates
from reports.estimates import corrected_lifts

WINDOWS = ["before", "during", "after"]
BRANDS = ["Acme", "Globex", "Initech"]
# Acme's campaign makes it common during; Globex and Initech stay flat, so during the campaign more of their
# photos show Acme too, where the model finds them less often.
PREVALENCE = {"Acme": (0.03, 0.25, 0.03), "Globex": (0.06, 0.06, 0.06), "Initech": (0.05, 0.05, 0.05)}
RECALL = {"alone": 0.92, "pair": 0.55}
FPR = 0.01
IMAGES = 3000


def _feed(rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Photo by photo: brands appear independently; the model finds a logo with the recall of its company."""
    rows, truth = [], {}
    for j, window in enumerate(WINDOWS):
        shown = np.stack([rng.random(IMAGES) < PREVALENCE[b][j] for b in BRANDS], axis=1)
        recall = np.where(shown.sum(axis=1, keepdims=True) >= 2, RECALL["pair"], RECALL["alone"])
        found = (shown & (rng.random(shown.shape) < recall)) | (~shown & (rng.random(shown.shape) < FPR))
        for i, brand in enumerate(BRANDS):
            truth[(brand, window)] = int(shown[:, i].sum())
            rows.append({"window": window, "brand": brand, "photos": int(found[:, i].sum()), "images": IMAGES})
    return pd.DataFrame(rows), truth


def _held_out(rng: np.random.Generator, split: bool) -> dict:
    """Labelled photos (a third of each brand's beside another brand, 1,500 without a logo) counted by
    classifier.error_rates.counts, as `monitor train` and `monitor evaluate` count them."""
    labels = [np.eye(3, dtype=bool)[i] for i in range(3) for _ in range(100)]
    labels += [np.eye(3, dtype=bool)[i] | np.eye(3, dtype=bool)[(i + 1) % 3] for i in range(3) for _ in range(50)]
    labels = np.array(labels + [np.zeros(3, bool)] * 1500)
    recall = np.where(labels.sum(axis=1, keepdims=True) >= 2, RECALL["pair"], RECALL["alone"])
    decided = (labels & (rng.random(labels.shape) < recall)) | (~labels & (rng.random(labels.shape) < FPR))
    found = counts(labels, decided, BRANDS)
    if not split:
        found = {b: {k: v for k, v in c.items() if "pair" not in k} for b, c in found.items()}
    return {"error_rates": {"brands": found}}


def test_counting_keeps_recall_beside_another_brand_apart() -> None:
    labels = np.array([[1, 0], [1, 1], [1, 1], [0, 0], [0, 0]], bool)
    decided = np.array([[1, 0], [0, 1], [1, 1], [1, 0], [0, 1]], bool)
    found = counts(labels, decided, ["A", "B"])
    assert [found["A"][k] for k in ("tp", "positives", "tp_pair", "positives_pair")] == [2, 3, 1, 2]
    assert [found["B"][k] for k in ("tp", "positives", "tp_pair", "positives_pair", "fp")] == [2, 2, 2, 2, 1]
    assert not read_error_rates({"error_rates": {"brands": found}}).brands["A"].pair_split  # 1 and 2 photos: too few
    found = counts(np.tile(labels, (10, 1)), np.tile(decided, (10, 1)), ["A", "B"])
    rates = read_error_rates({"error_rates": {"brands": found}}).brands
    assert rates["A"].pair_split and not rates["B"].pair_split  # B was never shown alone: one recall
    hostile = {**found["A"], "tp_pair": 3}  # more pair finds than finds: the split is dropped, the brand kept
    assert not read_error_rates({"error_rates": {"brands": {"A": hostile}}}).brands["A"].pair_split


def test_a_flat_brand_beside_a_campaign_is_not_undercounted_when_recall_is_counted_apart() -> None:
    lifts = {True: [], False: []}
    hits = {True: [], False: []}
    for world in range(80):
        rng = np.random.default_rng(world)
        totals, truth = _feed(rng)
        held = {split: _held_out(rng, split) for split in (True, False)}
        for split, metrics in held.items():
            c = correct(totals, read_error_rates(metrics), BRANDS, WINDOWS, seed=world, draws=400)
            table = corrected_lifts(c).set_index(["brand", "window"])
            lifts[split].append(table.loc[("Globex", "during"), "corrected_lift"])
            for row in count_table(c).itertuples():
                hits[split].append(row.adjusted_low <= truth[(row.brand, row.window)] <= row.adjusted_high)
    # Planted: Globex flat. With one recall, during the campaign a third of its photos show Acme too and its
    # recall falls from about 0.89 to 0.80: the corrected lift reads about 0.9. Counted apart it reads 1.0.
    assert abs(np.median(lifts[True]) - 1.0) < 0.03 < abs(np.median(lifts[False]) - 1.0)
    coverage = {split: float(np.mean(h)) for split, h in hits.items()}
    assert 0.90 <= coverage[True] <= 0.99, coverage
    assert coverage[False] < coverage[True], coverage
