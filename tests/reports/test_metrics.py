"""Statistics on frames: raw Poisson lift, relative lift, small-count warnings."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from reports.metrics import MIN_PHOTOS, lift_table, poisson_lift, relative_lift, small_count_warnings


def _totals(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["window", "brand", "photos", "images"])
    frame["rate_per_1000"] = 1000 * frame["photos"] / frame["images"]
    return frame


def test_poisson_lift_interval_brackets_the_ratio_and_shrinks_with_more_data() -> None:
    small = poisson_lift(40, 1000, 20, 1000)
    large = poisson_lift(400, 10000, 200, 10000)
    for stats in (small, large):
        assert stats["lift"] == pytest.approx(2.0)
        assert stats["ci_low"] < 2.0 < stats["ci_high"]
    assert large["ci_high"] - large["ci_low"] < small["ci_high"] - small["ci_low"]
    assert large["p_value"] < small["p_value"] < 0.05


def test_poisson_lift_with_a_zero_count_has_no_interval_but_a_p_value() -> None:
    stats = poisson_lift(0, 1000, 30, 1000)
    assert stats["lift"] == 0 and math.isnan(stats["ci_low"]) and stats["p_value"] < 0.05
    assert math.isnan(poisson_lift(0, 1000, 0, 1000)["lift"])


def test_relative_lift_cancels_a_market_wide_rise() -> None:
    totals = _totals(
        [
            ("before", "Acme", 100, 10000),
            ("during", "Acme", 300, 20000),
            ("before", "Globex", 100, 10000),
            ("during", "Globex", 200, 20000),
        ]
    )
    lifts = lift_table(totals, compare=("during",))
    relative = relative_lift(lifts, "Acme", ["Globex"]).iloc[0]
    assert relative["relative_lift"] == pytest.approx(1.5)
    assert relative["ci_low"] > 1.0
    flat = relative_lift(
        lift_table(totals.assign(photos=[100, 200, 100, 200]), compare=("during",)), "Acme", ["Globex"]
    ).iloc[0]
    assert flat["relative_lift"] == pytest.approx(1.0) and flat["ci_low"] < 1 < flat["ci_high"]


def test_small_counts_are_flagged_in_plain_words() -> None:
    totals = _totals([("before", "Acme", MIN_PHOTOS - 7, 1000), ("during", "Acme", 40, 1000)])
    lifts = lift_table(totals, compare=("during",))
    assert lifts.iloc[0]["warning"].startswith("too few photos")
    messages = small_count_warnings(totals, ["Acme"])
    assert messages == [
        f"Only 3 photos of Acme in the before window: too few to conclude (we need at least {MIN_PHOTOS})."
    ]
