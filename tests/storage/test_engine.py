"""Engine settings (SQLite pragmas, psycopg 3 for PostgreSQL) and readiness checks."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage import migrate
from storage.engine import Database, make_engine, normalize_url, open_database
from storage.errors import DatabaseNotReady, StorageError
from storage.redaction import redact_url as redact


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()


def test_sqlite_enforces_foreign_keys(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    db = Database(sqlite_url)
    try:
        with pytest.raises(StorageError, match="FOREIGN KEY constraint failed"):
            with db.session() as session:
                session.execute(
                    text("INSERT INTO thumbnails (image_id, jpeg, width, height) VALUES (999, x'00', 1, 1)")
                )
    finally:
        db.dispose()


def test_plain_postgresql_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_postgresql_engine_uses_psycopg3(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    db = Database(plain)
    try:
        assert db.dialect == "postgresql"
        assert db.engine.dialect.driver == "psycopg"
        with db.session() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        db.dispose()


def test_invalid_url_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="invalid database URL 'not a url'"):
        make_engine("not a url")


def test_open_database_refuses_an_empty_database(db_url: str) -> None:
    with pytest.raises(DatabaseNotReady) as caught:
        open_database(db_url)
    assert str(caught.value) == (
        f"database {redact(db_url)} is at revision none (empty), head is {migrate.head()}: run `monitor db upgrade`"
    )


def test_open_database_with_upgrade_migrates_first(db_url: str) -> None:
    db = open_database(db_url, upgrade=True)
    try:
        assert migrate.current(db_url) == migrate.head()
        with db.session() as session:
            assert session.execute(text("SELECT count(*) FROM images")).scalar() == 0
    finally:
        db.dispose()
    open_database(db_url).dispose()  # now at head: no error


def test_unreachable_postgresql_is_database_not_ready() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/nothing"
    with pytest.raises(DatabaseNotReady) as caught:
        open_database(url)
    message = str(caught.value)
    assert message.startswith("database postgresql://postgres:***@127.0.0.1:1/nothing is unreachable: ")
    assert "\n" not in message and "s3cret" not in message
    assert "connection" in message.lower()  # the driver's own reason follows


def test_driver_errors_inside_a_session_become_storage_errors(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        with pytest.raises(StorageError, match="no such table: images"):
            with db.session() as session:
                session.execute(text("SELECT * FROM images"))
    finally:
        db.dispose()
