"""Shared fixtures: SQLite files, a PostgreSQL database per test, quiet TF/Keras; which test servers were skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services import SERVICES, pg_base_url, probe, skipped_groups

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_HOME", str(Path(__file__).parent / ".keras-home"))

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest module (the demo end to end) first: with `-n 2` it then runs beside the rest, not after it."""
    items.sort(key=lambda item: item.path.name != "test_end_to_end.py")  # stable: the rest keep their order


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture
def pg_url() -> str:
    """A fresh database on $MONITOR_TEST_DATABASE_URL or the local default server, dropped afterwards."""
    from storage.scratch import scratch_database

    with scratch_database(pg_base_url(), "monitor_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs on a fresh SQLite file and on a fresh PostgreSQL database."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout; tests that need it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"real-data check: {SHARED} is absent")
    return SHARED


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files for people to look at (screenshots, reports)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say at the end, per test server, whether its tests ran or why they were skipped."""
    skipped = skipped_groups(terminalreporter.stats.get("skipped", []))
    terminalreporter.section("test servers")
    for name in SERVICES:
        if name in skipped:
            count, why = skipped[name]
            terminalreporter.write_line(f"{name}: SKIPPED {count} test(s): {why}", yellow=True, bold=True)
        else:
            why = probe(name)
            terminalreporter.write_line(f"{name}: {why or 'answers'}")
