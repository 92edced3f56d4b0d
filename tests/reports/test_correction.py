"""Error-corrected counts, lifts and shares against planted truth: bias removed, intervals honest."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from planted_world import Model, count, error_rates_metrics, measure

from report_seed import BASELINE_START, START, Campaign, seed, window_of
from reports import build_campaign_report
from reports.correction import correct, count_table
from reports.error_rates import read_error_rates
from reports.estimates import corrected_lifts, corrected_share, reliability
from reports.headline import campaign_headline, competitor_phrase, verdict_of

WINDOWS = ["before", "during", "after"]
BRANDS = ["Acme", "Globex", "Initech"]
# True share of photos showing each brand per window: Acme doubles during the campaign, Initech drifts up.
PREVALENCE = {"Acme": (0.02, 0.04, 0.02), "Globex": (0.03, 0.03, 0.03), "Initech": (0.02, 0.025, 0.03)}
MODELS = {"Acme": Model(0.8, 0.02), "Globex": Model(0.7, 0.03), "Initech": Model(0.85, 0.015)}


def _world(
    rng: np.random.Generator, images: int = 3000, positives: int = 150, negatives: int = 1500, split: bool = False
) -> tuple[pd.DataFrame, dict, dict]:
    """One simulated feed: the truth per brand and window, what the model counted, and the measured rates."""
    n = np.full(len(WINDOWS), images)
    truth, rows = {}, []
    for brand in BRANDS:
        true = rng.binomial(n, PREVALENCE[brand])
        observed = count(rng, true, n, MODELS[brand])
        for j, window in enumerate(WINDOWS):
            truth[(brand, window)] = int(true[j])
            rows.append({"window": window, "brand": brand, "photos": int(observed[j]), "images": int(n[j])})
    measured = {b: measure(rng, MODELS[b], positives, negatives) for b in BRANDS}
    return pd.DataFrame(rows), truth, error_rates_metrics(measured)


def _true_lift(truth: dict, brand: str, window: str) -> float:
    return truth[(brand, window)] / truth[(brand, "before")]  # same photos analysed in every window


def test_intervals_reach_their_nominal_coverage_over_simulated_worlds() -> None:
    rng = np.random.default_rng(13)
    hits = {"count": [], "lift": [], "share": []}
    for world in range(200):
        totals, truth, metrics = _world(rng)
        c = correct(totals, read_error_rates(metrics), BRANDS, WINDOWS, seed=world, draws=1000)
        for row in count_table(c).itertuples():
            hits["count"].append(row.adjusted_low <= truth[(row.brand, row.window)] <= row.adjusted_high)
        for row in corrected_lifts(c).itertuples():
            hits["lift"].append(
                row.corrected_ci_low <= _true_lift(truth, row.brand, row.window) <= row.corrected_ci_high
            )
        for row in corrected_share(c, BRANDS).itertuples():
            total = sum(truth[(b, row.window)] for b in BRANDS)
            hits["share"].append(
                row.corrected_share_low <= truth[(row.brand, row.window)] / total <= row.corrected_share_high
            )
    coverage = {k: float(np.mean(v)) for k, v in hits.items()}
    assert all(0.90 <= v <= 0.99 for v in coverage.values()), coverage


def test_raw_lift_and_share_are_biased_by_false_alarms_and_the_corrected_ones_are_not() -> None:
    rng = np.random.default_rng(5)
    raw, fixed, raw_share, fixed_share, true_share = [], [], [], [], []
    for world in range(100):
        totals, truth, metrics = _world(rng)
        c = correct(totals, read_error_rates(metrics), BRANDS, WINDOWS, seed=world, draws=200)
        acme = totals[totals["brand"] == "Acme"].set_index("window")["photos"]
        raw.append(acme["during"] / acme["before"])
        fixed.append(corrected_lifts(c).set_index(["brand", "window"]).loc[("Acme", "during"), "corrected_lift"])
        share = corrected_share(c, BRANDS).set_index(["brand", "window"])
        fixed_share.append(share.loc[("Acme", "during"), "corrected_share"])
        during = totals[totals["window"] == "during"].set_index("brand")["photos"]
        raw_share.append(during["Acme"] / during.sum())
        true_share.append(truth[("Acme", "during")] / sum(truth[(b, "during")] for b in BRANDS))
    # Planted: Acme doubles. The false-alarm floor (2% of 3,000 photos = 60 a window) pulls the raw lift
    # to about (96 + 58) / (48 + 59) = 1.4; the corrected one is centred on 2.
    assert np.median(raw) < 1.6
    assert np.median(fixed) == pytest.approx(2.0, rel=0.06)
    assert abs(np.mean(fixed_share) - np.mean(true_share)) < 0.02 < abs(np.mean(raw_share) - np.mean(true_share))


def test_false_alarms_on_no_logo_photos_are_corrected_for_the_feeds_own_mix() -> None:
    # The model flags 8% of no-logo photos but no photo of another brand. Validation had as many
    # other-brand photos as no-logo ones; the feed is mostly no-logo photos, so one pooled FPR (4%) would
    # undercount the feed's false alarms. Rates given apart are combined in the feed's own mix.
    images, true = 3000, {"Acme": 300, "Globex": 600}
    observed = {"Acme": 0.8 * 300 + 0.08 * (3000 - 900), "Globex": 0.8 * 600 + 0.01 * (3000 - 600)}
    totals = pd.DataFrame(
        [{"window": "during", "brand": b, "photos": round(observed[b]), "images": images} for b in true]
    )
    brands = {
        "Acme": {"tp": 800, "positives": 1000, "fp": 80, "negatives": 2000, "fp_nologo": 80, "negatives_nologo": 1000},
        "Globex": {
            "tp": 800,
            "positives": 1000,
            "fp": 20,
            "negatives": 2000,
            "fp_nologo": 10,
            "negatives_nologo": 1000,
        },
    }
    split = read_error_rates({"error_rates": {"brands": brands}})
    pooled = read_error_rates(
        {"error_rates": {"brands": {b: {k: v for k, v in r.items() if "nologo" not in k} for b, r in brands.items()}}}
    )
    by_split = count_table(correct(totals, split, list(true), ["during"])).set_index("brand")
    by_pooled = count_table(correct(totals, pooled, list(true), ["during"])).set_index("brand")
    assert by_split.loc["Acme", "adjusted"] == pytest.approx(300, abs=3)
    assert by_split.loc["Globex", "adjusted"] == pytest.approx(600, abs=6)
    assert by_pooled.loc["Acme", "adjusted"] > 360  # the pooled rate misses the no-logo photos' alarms


def test_corrections_that_cannot_be_made_are_said_not_guessed() -> None:
    totals = pd.DataFrame(
        [{"window": "during", "brand": b, "photos": 50, "images": 1000} for b in ("Acme", "Globex", "Initech")]
    )
    rates = read_error_rates(error_rates_metrics({"Acme": (30, 100, 25, 100), "Globex": (80, 100, 2, 400)}))
    table = count_table(correct(totals, rates, ["Acme", "Globex", "Initech"], ["during"])).set_index("brand")
    assert "barely tells this brand apart" in table.loc["Acme", "note"] and math.isnan(table.loc["Acme", "adjusted"])
    assert "no measured error rates for this brand" in table.loc["Initech", "note"]
    assert table.loc["Globex", "note"] == "" and table.loc["Globex", "adjusted"] > 0
    none = count_table(correct(totals, None, ["Acme"], ["during"])).iloc[0]
    assert "has no measured error rates" in none["note"] and math.isnan(none["adjusted_low"])


def test_hostile_error_rates_cost_only_their_own_brand() -> None:
    metrics = error_rates_metrics({"Acme": (80, 100, 5, 400)})
    metrics["error_rates"]["brands"].update(
        {
            "Globex": {"tp": 120, "positives": 100, "fp": 1, "negatives": 10},  # more hits than positives
            "Initech": {"tp": "80", "positives": None, "fp": -1, "negatives": float("nan")},
            "Umbrella": ["not", "a", "mapping"],
        }
    )
    rates = read_error_rates(metrics)
    assert rates is not None and set(rates.brands) == {"Acme"}
    assert read_error_rates({"error_rates": "garbage"}) is None and read_error_rates(None) is None


def test_the_same_report_twice_reads_the_same_and_more_labelled_photos_narrow_it() -> None:
    totals = pd.DataFrame(
        [{"window": w, "brand": "Acme", "photos": p, "images": 2000} for w, p in (("before", 300), ("during", 500))]
    )
    few = read_error_rates(error_rates_metrics({"Acme": (16, 20, 4, 100)}))
    many = read_error_rates(error_rates_metrics({"Acme": (800, 1000, 200, 5000)}))
    wide = corrected_lifts(correct(totals, few, ["Acme"], ["before", "during"], seed=3), compare=["during"])
    again = corrected_lifts(correct(totals, few, ["Acme"], ["before", "during"], seed=3), compare=["during"])
    narrow = corrected_lifts(correct(totals, many, ["Acme"], ["before", "during"], seed=3), compare=["during"])
    pd.testing.assert_frame_equal(wide, again)

    def log_width(frame: pd.DataFrame) -> float:
        return float(np.log(frame["corrected_ci_high"] / frame["corrected_ci_low"]).iloc[0])

    assert log_width(wide) > 1.5 * log_width(narrow)


def test_a_wide_interval_is_too_uncertain_to_tell_never_flat() -> None:
    assert verdict_of(0.9, 1.1) == "flat" and verdict_of(0.6, 1.9) == "uncertain"
    assert verdict_of(1.1, 3.0) == "rise" and verdict_of(0.2, 0.8) == "drop"
    row = pd.Series(
        {
            "lift": 1.0,
            "ci_low": 0.9,
            "ci_high": 1.1,
            "corrected_lift": 1.2,
            "corrected_ci_low": 0.7,
            "corrected_ci_high": 2.1,
            "warning": "",
            "photos": 200,
            "baseline_photos": 180,
        }
    )
    assert competitor_phrase(row, "Globex") == "Globex: too uncertain to tell (0.70x–2.1x)"


def test_reliability_warns_when_false_alarms_are_much_of_a_count() -> None:
    totals = pd.DataFrame(
        [{"window": "during", "brand": b, "photos": p, "images": 5000} for b, p in (("Acme", 300), ("Globex", 300))]
    )
    rates = read_error_rates(error_rates_metrics({"Acme": (900, 1000, 40, 4000), "Globex": (900, 1000, 200, 4000)}))
    table = reliability(correct(totals, rates, ["Acme", "Globex"], ["during"])).set_index("brand")
    # Globex flags 5% of ~5,000 photos without it: about 240 of its 300 are false alarms.
    assert (
        table.loc["Globex", "share_right"] == pytest.approx(0.2, abs=0.05)
        and "false alarms" in table.loc["Globex", "warning"]
    )
    assert table.loc["Acme", "share_right"] > 0.8 and table.loc["Acme", "warning"] == ""


def test_a_planted_false_alarm_floor_through_the_real_storage(db_url: str) -> None:
    # 500 photos a day; Acme truly in 10, then 20 during the campaign, then 10; Globex truly in 15 every day.
    # The model finds 80% of logos and flags 4% of the photos without them: a floor of ~20 a day.
    rng = np.random.default_rng(21)
    models = {"Acme": Model(0.8, 0.04), "Globex": Model(0.8, 0.04)}
    true = {"Acme": lambda d: 20 if window_of(d) == "during" else 10, "Globex": lambda d: 15}
    counted = {}

    def observed(day):
        if day not in counted:
            counted[day] = {b: int(count(rng, np.array(true[b](day)), np.array(500), models[b])) for b in models}
        return counted[day]

    metrics = error_rates_metrics({b: measure(rng, m, 600, 6000) for b, m in models.items()})
    db = seed(db_url, lambda d: 500, observed, metrics=metrics)
    report = build_campaign_report(db, Campaign())
    db.dispose()
    acme = report.lifts.set_index(["brand", "window"]).loc[("Acme", "during")]
    assert acme["ci_high"] < 1.8  # raw: the floor pulls the doubling toward 1
    assert acme["corrected_ci_low"] < 2.0 < acme["corrected_ci_high"] and acme["corrected_ci_low"] > 1.3
    globex = report.lifts.set_index(["brand", "window"]).loc[("Globex", "during")]
    assert verdict_of(globex["corrected_ci_low"], globex["corrected_ci_high"]) in ("flat", "uncertain")
    adjusted = report.adjusted.set_index(["brand", "window"])
    covered = [
        adjusted.loc[(b, w), "adjusted_low"] <= 14 * true[b](d) <= adjusted.loc[(b, w), "adjusted_high"]
        for b in models
        for w, d in (("before", BASELINE_START), ("during", START))
    ]
    assert sum(covered) >= 3
    share = report.share_by_window.set_index(["brand", "window"]).loc[("Acme", "during")]
    assert share["corrected_share"] == pytest.approx(20 / 35, abs=0.06)
    assert report.headline.startswith("Acme appeared in") and "as before" in report.headline
    assert campaign_headline("Acme", ["Globex"], report.lifts, report.relative) == report.headline
