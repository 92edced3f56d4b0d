"""Audited rates on a planted world: the stratified estimates' intervals cover the true recall and FPR, the
counts corrected with them cover the true counts, and pooling with held-out rates narrows them when they agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from reports.audit import estimate_rates
from reports.audit_pool import pool_brands
from reports.correction import correct, quantiles
from reports.error_rates import read_error_rates
from storage.judgments import FramePhoto, stratum_of

BRANDS = ("Acme", "Globex", "Initech")
PREVALENCE = {"Acme": 0.06, "Globex": 0.04, "Initech": 0.03}
RECALL = {"Acme": 0.85, "Globex": 0.7, "Initech": 0.6}
FPR = {"Acme": 0.01, "Globex": 0.02, "Initech": 0.005}


def planted_world(
    rng: np.random.Generator, photos: int, recall: float | None = None, fpr: float | None = None
) -> tuple[list[FramePhoto], dict[int, dict[str, bool]]]:
    """Photos with true brands, detected with known recall and false-positive rate (per brand, or one for all)."""
    recalls = {b: RECALL[b] if recall is None else recall for b in BRANDS}
    fprs = {b: FPR[b] if fpr is None else fpr for b in BRANDS}
    frame, truth = [], {}
    for image_id in range(photos):
        shows = {b: bool(rng.random() < PREVALENCE[b]) for b in BRANDS}
        detected = {
            b: float(rng.uniform(0.5, 1)) for b in BRANDS if rng.random() < (recalls[b] if shows[b] else fprs[b])
        }
        frame.append(FramePhoto(image_id, f"{image_id:064x}", stratum_of(detected), detected))
        truth[image_id] = shows
    return frame, truth


def paired_world(rng: np.random.Generator, photos: int) -> tuple[list[FramePhoto], dict[int, dict[str, bool]]]:
    """Globex also in 5% of Acme's photos and always less confident: photos where both are detected fall in
    Acme's stratum, a small cell of it that a small sample of the stratum often leaves unjudged."""
    fpr = dict(FPR, Globex=0.005)
    frame, truth = [], {}
    for image_id in range(photos):
        shows = {b: bool(rng.random() < (0.08 if b == "Acme" else PREVALENCE[b])) for b in BRANDS}
        shows["Globex"] |= shows["Acme"] and bool(rng.random() < 0.05)
        detected = {
            b: float(rng.uniform(0.3, 0.5) if b == "Globex" else rng.uniform(0.5, 1))
            for b in BRANDS
            if rng.random() < (RECALL[b] if shows[b] else fpr[b])
        }
        frame.append(FramePhoto(image_id, f"{image_id:064x}", stratum_of(detected), detected))
        truth[image_id] = shows
    return frame, truth


def judge_sample(
    rng: np.random.Generator, frame: list[FramePhoto], truth: dict, per_stratum: int, no_detection: int | None = None
) -> list[dict]:
    """An analyst judging a simple random sample of each stratum (no_detection photos of that one), every brand."""
    by_stratum: dict[str, list[int]] = {}
    for p in frame:
        by_stratum.setdefault(p.stratum, []).append(p.image_id)
    rows = []
    for stratum, ids in by_stratum.items():
        take = per_stratum if stratum or no_detection is None else no_detection
        for image_id in rng.permutation(ids)[:take]:
            rows += [{"image_id": int(image_id), "brand": b, "present": truth[int(image_id)][b]} for b in BRANDS]
    return rows


def true_rates(frame: list[FramePhoto], truth: dict, brand: str) -> tuple[float, float]:
    shows = np.array([truth[p.image_id][brand] for p in frame])
    detected = np.array([brand in p.detected for p in frame])
    return float(detected[shows].mean()), float(detected[~shows].mean())


def true_count(frame: list[FramePhoto], truth: dict, brand: str) -> int:
    return sum(truth[p.image_id][brand] for p in frame)


def corrected_intervals(frame: list[FramePhoto], rates: dict, draws: int = 2000) -> dict[str, tuple[float, float]]:
    """The frame's count per brand corrected with `rates` the way reports correct a window's count."""
    totals = pd.DataFrame(
        [
            {"brand": b, "window": "all", "photos": sum(b in p.detected for p in frame), "images": len(frame)}
            for b in BRANDS
        ]
    )
    correction = correct(totals, read_error_rates({"error_rates": {"brands": rates}}), BRANDS, ["all"], draws=draws)
    low, high = quantiles(correction.draws)
    return {b: (float(low[i, 0]), float(high[i, 0])) for i, b in enumerate(BRANDS)}


def held_out_counts(rng: np.random.Generator, recall_shift: float = 0.0) -> dict:
    """A bundle's held-out counts measured on photos like the feed's (60 per brand, 250 no-logo, 160 other)."""
    out = {}
    for brand in BRANDS:
        tp = int(rng.binomial(60, min(RECALL[brand] + recall_shift, 1.0)))
        fp_nologo, fp_other = int(rng.binomial(250, FPR[brand])), int(rng.binomial(160, FPR[brand]))
        out[brand] = {"tp": tp, "positives": 60, "fp": fp_nologo + fp_other, "negatives": 410}
        out[brand].update({"fp_nologo": fp_nologo, "negatives_nologo": 250})
    return out


def test_intervals_cover_the_true_rates_at_about_the_nominal_rate() -> None:
    covered, total, widths = {"recall": 0, "fpr": 0}, {"recall": 0, "fpr": 0}, []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        frame, truth = planted_world(rng, 4000)
        judged = judge_sample(rng, frame, truth, 60)
        rates = estimate_rates(frame, judged, BRANDS, seed=seed, draws=2000, for_counts=False)
        for brand in BRANDS:
            true_recall, true_fpr = true_rates(frame, truth, brand)
            entry = rates[brand]
            # Consistent counts: the other-brand part is what remains of the overall FPR's counts.
            assert 0 <= entry["tp"] <= entry["positives"] and 0 <= entry["fp_nologo"] <= entry["fp"]
            assert 0 <= entry["fp"] - entry["fp_nologo"] <= entry["negatives"] - entry["negatives_nologo"]
            for name, hits, trials, truth_value in (
                ("recall", "tp", "positives", true_recall),
                ("fpr", "fp", "negatives", true_fpr),
            ):
                # The interval reports draw: Beta(hits + 1, trials - hits + 1).
                low, high = beta.ppf([0.025, 0.975], entry[hits] + 1, entry[trials] - entry[hits] + 1)
                covered[name] += low <= truth_value <= high
                total[name] += 1
                widths.append(high - low)
    for name in covered:
        share = covered[name] / total[name]
        assert 0.9 <= share <= 0.995, (name, share)
    assert np.median(widths) < 0.5  # informative, not a trivially covering [0, 1]


def test_a_brand_detected_beside_another_brand_s_detection_is_not_taken_for_false_alarms() -> None:
    """An unjudged cell borrows the brand's judgments of cells with the same flag, not its stratum's: in Acme's
    stratum those show Acme without Globex, and would make the unjudged two-logo photos Globex's false alarms."""
    covered, runs = {"fpr": 0, "fpr_other": 0}, 0
    for seed in range(30):
        rng = np.random.default_rng(3000 + seed)
        frame, truth = paired_world(rng, 4000)
        judged = judge_sample(rng, frame, truth, 15, no_detection=150)
        entry = estimate_rates(frame, judged, BRANDS, seed=seed, draws=1000, for_counts=False)["Globex"]
        negatives = [p for p in frame if not truth[p.image_id]["Globex"]]
        others = [p for p in negatives if any(truth[p.image_id].values())]
        for name, photos in (("fpr", negatives), ("fpr_other", others)):
            true_rate = np.mean(["Globex" in p.detected for p in photos])
            low, high = entry[f"{name}_interval"]
            covered[name] += low <= true_rate <= high
        runs += 1
    for name, hits in covered.items():
        assert hits / runs >= 0.85, (name, hits / runs)


def test_counts_corrected_with_audited_rates_cover_the_truth_and_pooling_narrows_them() -> None:
    """Through reports.correction (recall and FPR drawn apart): the audit alone, and pooled with held-out
    counts from photos like the feed's, cover the true count about 95% of the time; pooling is narrower."""
    covered = {"audit": 0, "pooled": 0}
    widths: dict[str, list[float]] = {"audit": [], "pooled": []}
    weights: list[list[float]] = []
    runs = 0
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        frame, truth = planted_world(rng, 4000)
        audit = estimate_rates(frame, judge_sample(rng, frame, truth, 40), BRANDS, seed=seed, draws=1000)
        pooled = pool_brands(audit, held_out_counts(rng))
        for name, rates in (("audit", audit), ("pooled", pooled)):
            for brand, (low, high) in corrected_intervals(frame, rates).items():
                true = true_count(frame, truth, brand)
                covered[name] += low <= true <= high
                widths[name].append((high - low) / true)
        weights += [[pooled[b]["pooled"][part]["weight"] for part in ("fpr_nologo", "fpr_other")] for b in BRANDS]
        runs += len(BRANDS)
    for name in covered:
        assert covered[name] / runs >= 0.9, (name, covered[name] / runs)
    assert np.median(widths["pooled"]) < 0.85 * np.median(widths["audit"]), {k: np.median(v) for k, v in widths.items()}
    # The false-alarm rates, which the audit measures well, confirm the held-out ones: these keep their weight.
    assert np.mean(weights, axis=0).min() >= 0.9, np.mean(weights, axis=0)


@pytest.mark.parametrize("shift", [0.25, 0.1])
def test_held_out_rates_that_the_feed_contradicts_are_mostly_set_aside(shift: float) -> None:
    """Held-out recall too high for every brand (a feed that looks different): pooling keeps covering, both where
    the audit plainly sees the gap (0.25) and where its few recall photos barely can (0.1)."""
    covered = runs = 0
    weights = []
    for seed in range(30):
        rng = np.random.default_rng(2000 + seed)
        frame, truth = planted_world(rng, 4000)
        audit = estimate_rates(frame, judge_sample(rng, frame, truth, 40), BRANDS, seed=seed, draws=1000)
        pooled = pool_brands(audit, held_out_counts(rng, recall_shift=shift))
        weights += [pooled[b]["pooled"]["recall"]["weight"] for b in BRANDS]
        for brand, (low, high) in corrected_intervals(frame, pooled).items():
            covered += low <= true_count(frame, truth, brand) <= high
            runs += 1
    assert covered / runs >= 0.85, covered / runs
    if shift >= 0.25:
        assert np.median(weights) < 0.3  # the held-out recall counts keep little weight


def pooling_entries(audit_recall: dict[str, tuple[float, float]], interval: tuple[float, float] | None = None) -> tuple:
    """Audited and held-out entries (held-out recall 90 of 100 for each brand) with audited recall counts as given."""
    held, audited = {}, {}
    for brand, (tp, positives) in audit_recall.items():
        held[brand] = {"tp": 90, "positives": 100, "fp": 8, "negatives": 800, "fp_nologo": 5, "negatives_nologo": 500}
        audited[brand] = {
            "tp": tp,
            "positives": positives,
            "fp": 16,
            "negatives": 1600,
            "fp_nologo": 10,
            "negatives_nologo": 1000,
            "recall_interval": list(interval) if interval else None,
        }
    return audited, held


def test_one_brand_s_chance_gap_leaves_the_held_out_recall_that_precise_audits_confirm() -> None:
    """Three audits pin recall at the held-out 0.9; a fourth of 6 photos finds 4 (1.6 sd off, chance): the held-out
    counts keep their weight. When the precise audits disagree (0.8), they lose it."""
    audited, held = pooling_entries(
        {"Acme": (900, 1000), "Globex": (900, 1000), "Initech": (900, 1000), "Hooli": (4, 6)}
    )
    pooled = pool_brands(audited, held)
    assert min(pooled[b]["pooled"]["recall"]["weight"] for b in audited) >= 0.9, pooled
    audited, held = pooling_entries(
        {"Acme": (800, 1000), "Globex": (800, 1000), "Initech": (800, 1000), "Hooli": (4, 6)}
    )
    pooled = pool_brands(audited, held)
    assert max(pooled[b]["pooled"]["recall"]["weight"] for b in audited) < 0.2, pooled


def test_agreement_is_judged_on_the_audited_rate_s_own_uncertainty() -> None:
    """Effective counts for counts can be more certain than the rate (recall and FPR err together): a gap well
    within the recall's own interval does not set the held-out counts aside; the same gap with tight intervals does."""
    recall = {b: (840, 1000) for b in ("Acme", "Globex", "Initech", "Hooli")}
    pooled = pool_brands(*pooling_entries(recall, interval=(0.7, 0.98)))
    assert min(pooled[b]["pooled"]["recall"]["weight"] for b in recall) >= 0.9, pooled
    pooled = pool_brands(*pooling_entries(recall, interval=(0.83, 0.87)))
    assert max(pooled[b]["pooled"]["recall"]["weight"] for b in recall) < 0.5, pooled


def test_point_estimates_are_unbiased_over_seeds() -> None:
    errors = {b: [] for b in BRANDS}
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        frame, truth = planted_world(rng, 4000)
        rates = estimate_rates(frame, judge_sample(rng, frame, truth, 80), BRANDS, seed=seed, draws=1000)
        for brand in BRANDS:
            errors[brand].append(rates[brand]["fpr"] - true_rates(frame, truth, brand)[1])
    for brand, errs in errors.items():
        assert abs(np.mean(errs)) < 2 * np.std(errs) / np.sqrt(len(errs)) + 0.002, brand


def test_rates_are_unbiased_where_a_few_judged_photos_stand_for_a_large_no_detection_stratum() -> None:
    """The demo's shape: recall 0.97, few judged photos per stratum. A prior's half photo per unseen kind of
    photo in every cell once made missed logos nobody saw (audited recall 0.92 against a true 0.97 there)."""
    errors: dict[str, list[float]] = {"recall": [], "fpr": []}
    for seed in range(30):
        rng = np.random.default_rng(300 + seed)
        frame, truth = planted_world(rng, 4000, recall=0.97, fpr=0.01)
        rates = estimate_rates(
            frame, judge_sample(rng, frame, truth, 20, no_detection=100), BRANDS, seed=seed, draws=500
        )
        for brand in BRANDS:
            recall, fpr = true_rates(frame, truth, brand)
            errors["recall"].append(rates[brand]["recall"] - recall)
            errors["fpr"].append(rates[brand]["fpr"] - fpr)
    for name, errs in errors.items():
        assert abs(np.mean(errs)) < 2 * np.std(errs) / np.sqrt(len(errs)) + 0.002, (name, np.mean(errs))


def test_a_fully_judged_world_is_known_exactly() -> None:
    rng = np.random.default_rng(7)
    frame, truth = planted_world(rng, 600)
    rates = estimate_rates(frame, judge_sample(rng, frame, truth, 10_000), BRANDS, draws=500)
    for brand in BRANDS:
        recall, fpr = true_rates(frame, truth, brand)
        low, high = rates[brand]["recall_interval"]
        assert low == high == recall
        assert rates[brand]["fpr_interval"] == [fpr, fpr]
        assert abs(rates[brand]["recall"] - recall) < 1e-6 and rates[brand]["enough"]


def test_judging_what_the_plan_asks_for_reaches_about_the_stated_precision() -> None:
    from monitor.review.sampling import plan_sample, strata

    rng = np.random.default_rng(3)
    frame, truth = planted_world(rng, 20000)
    order = strata(frame, seed=3)

    def judge(targets: dict[str, int]) -> tuple[list[dict], dict[int, str]]:
        chosen = {p.image_id: s for s, photos in order.items() for p in photos[: targets.get(s, 0)]}
        return [{"image_id": i, "brand": b, "present": truth[i][b]} for i in chosen for b in BRANDS], chosen

    rows, judged = judge({s: 20 for s in order})  # the pilot
    plan = plan_sample(frame, judged, {"brands": estimate_rates(frame, rows, BRANDS, draws=1000)}, 0.1)
    assert plan.more_total > 500 and plan.more[""] == max(plan.more.values())  # misses hide among no detection
    rows, judged = judge(plan.target)
    rates = estimate_rates(frame, rows, BRANDS, draws=1000)
    half = [
        (high - low) / 2 / true_count(frame, truth, b) for b, (low, high) in corrected_intervals(frame, rates).items()
    ]
    # The report's interval also holds the counting noise of the frame itself (about +/-6% here) beside
    # the audit's +/-10%, and the pilot's estimate of the spread is rough.
    assert max(half) < 0.1 * 1.6 and np.median(half) < 0.1 * 1.5, half
    again = plan_sample(frame, judged, {"brands": rates}, 0.1)
    assert again.more_total < 0.3 * sum(plan.target.values()), (again.more_total, plan.target)  # it holds up
