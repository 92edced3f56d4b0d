"""The storage tests' database: migrated to head, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.engine import Database, open_database


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database on SQLite and on PostgreSQL."""
    database = open_database(db_url, upgrade=True)
    yield database
    database.dispose()
