"""The issue's acceptance on the full demo, seed by seed: the report against the feed's ground truth.

About 5 minutes a seed on 2 cores: run on purpose with `make test-slow` (or `pytest -m slow -k truth`)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from monitor.demo.run import run_demo

pytestmark = pytest.mark.slow


KNOWN = "issue 13: fails today (README, the demo's truth check on other seeds)"


@pytest.mark.parametrize(
    "seed",
    [
        0,
        pytest.param(1, marks=pytest.mark.xfail(reason=f"{KNOWN}: 13 Trelo Tea false alarms in 500 held-out photos")),
        pytest.param(2, marks=pytest.mark.xfail(reason=f"{KNOWN}: the small model does not learn Trelo Tea")),
        3,
    ],
)
def test_the_full_demo_passes_the_truth_check(tmp_path, seed: int) -> None:
    buffer = io.StringIO()
    result = run_demo(tmp_path / "demo", seed=seed, scale="full", console=Console(file=buffer, width=140))
    failed = {name: seen for name, (ok, seen) in result.truth.checks.items() if not ok}
    assert not failed, (failed, buffer.getvalue()[-6000:])
