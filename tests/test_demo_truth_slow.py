"""The issue's acceptance on the full demo over four seeds: the report against the feed's ground truth.

About 4 minutes a seed on 2 cores: run on purpose with `make test-slow` (or `pytest -m slow -k truth`).

Coverage is checked over the four seeds pooled: a brand's three windows share its measured error rates,
so with honest 95% intervals "at least 11 of 12 cells" holds on only about 4 seeds in 5 (0.95^4 for the
four brands' rates, before counting noise), and a test of it per seed would fail by design about once a run.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from monitor.demo.run import run_demo

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="module")
def checks(tmp_path_factory) -> dict:
    """seed -> the demo's truth check (monitor.demo.truth.TruthCheck)."""
    found = {}
    for seed in SEEDS:
        root = tmp_path_factory.mktemp(f"demo-{seed}")
        found[seed] = run_demo(root / "demo", seed=seed, scale="full", console=Console(file=io.StringIO())).truth
    return found


def test_intervals_cover_the_truth_over_four_seeds(checks) -> None:
    counts = sum(int(c.counts["covered"].sum()) for c in checks.values())
    lifts = sum(int(c.lifts["covered"].sum()) for c in checks.values())
    # Nominal 95% of 48 cells and 32 lifts is 45.6 and 30.4 (bench/coverage.py: exact intervals cover 96-98% on
    # demo-shaped worlds). Seen with the 30-epoch demo model: 42 and 31 in one run of seeds 0-3, 48 and 32 in
    # another; the bars sit below both. Raw counts covered about half the cells.
    assert counts >= 40 and lifts >= 28, {s: (c.checks["counts"], c.checks["lifts"]) for s, c in checks.items()}


def test_the_campaign_is_seen_and_no_rise_is_called_flat_on_every_seed(checks) -> None:
    failed = {s: c.checks[k] for s, c in checks.items() for k in ("campaign", "not_flat") if not c.checks[k][0]}
    assert not failed, failed


def test_corrected_shares_of_voice_are_within_five_points_on_every_seed(checks) -> None:
    failed = {s: c.checks["share"] for s, c in checks.items() if not c.checks["share"][0]}
    assert not failed, failed
