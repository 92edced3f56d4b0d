"""Fixtures for report tests: seeded databases with planted effects (helpers in tests/support/report_seed.py)."""

from __future__ import annotations

import pytest

from report_seed import Campaign, seed, window_of
from storage.engine import Database


@pytest.fixture
def campaign() -> Campaign:
    return Campaign()


@pytest.fixture
def planted(sqlite_url: str) -> Database:
    """Acme doubles its rate during the campaign (10 -> 20 of 500 photos a day); Globex is flat (15 a day)."""
    db = seed(sqlite_url, lambda d: 500, lambda d: {"Acme": 20 if window_of(d) == "during" else 10, "Globex": 15})
    yield db
    db.dispose()
