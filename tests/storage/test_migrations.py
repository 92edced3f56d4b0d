"""Migrations build the schema from empty on both databases, and agree with the ORM."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage import migrate
from storage.engine import make_engine
from storage.schema import Base

ROOT = Path(__file__).resolve().parents[2]


def test_upgrade_from_empty_creates_every_table(db_url: str) -> None:
    assert migrate.current(db_url) is None
    assert migrate.upgrade(db_url) == migrate.head()
    engine = make_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    first = migrate.upgrade(db_url)
    assert migrate.upgrade(db_url) == first == migrate.current(db_url) == migrate.head()


def test_orm_schema_and_migrations_agree(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    assert migrate.upgrade(sqlite_url, "head") == migrate.head()
    from alembic import command

    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            config = migrate.alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    assert migrate.current(sqlite_url) is None
    assert migrate.upgrade(sqlite_url) == migrate.head()


def test_production_code_never_calls_create_all() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("monitor", "storage", "reports", "classifier")
        for path in (ROOT / package).rglob("*.py")
        if re.search(r"\bcreate_all\s*\(", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_migration_scripts_are_package_data() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    shipped = [
        path.relative_to(ROOT / "storage")
        for path in (ROOT / "storage" / "migrations").rglob("*")
        if path.is_file() and path.suffix in (".py", ".mako")
    ]
    assert shipped
    patterns = re.search(r"^storage = \[(.*)\]$", text, re.M).group(1)
    globs = [p.strip().strip('"') for p in patterns.split(",")]
    for path in shipped:
        assert any(path.match(glob) for glob in globs), f"{path} is not in [tool.setuptools.package-data]"


def test_0005_fills_the_hash_columns_of_rows_stored_at_0004(db_url: str) -> None:
    import hashlib

    from sqlalchemy import text

    assert migrate.upgrade(db_url, "0004") == "0004"
    engine = make_engine(db_url)
    now = "2026-03-01 12:00:00"
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sources (id, name, kind, consecutive_failures, created_at) "
                    "VALUES (1, 'feed', 'rss', 0, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO images (id, source_id, sha256, uri, external_id, posted_at, time_source, "
                    "ingested_at, status) VALUES (1, 1, :sha, 'https://x/1.jpg', 'entry-1', :now, "
                    "'source', :now, 'accepted')"
                ),
                {"sha": "a" * 64, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO fetch_failures (source_id, uri, reason, attempts, first_at, last_at) "
                    "VALUES (1, 'https://x/2.jpg', 'timeout', 1, :now, :now)"
                ),
                {"now": now},
            )
        assert migrate.upgrade(db_url) == migrate.head()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT external_id, external_id_sha256 FROM images")).one() == (
                "entry-1",
                hashlib.sha256(b"entry-1").hexdigest(),
            )
            assert conn.execute(text("SELECT uri_sha256 FROM fetch_failures")).scalar_one() == (
                hashlib.sha256(b"https://x/2.jpg").hexdigest()
            )
    finally:
        engine.dispose()
    # What 0004 could not hold on PostgreSQL now goes in whole, and the old failure is found by its hash.
    from storage import writes
    from storage.engine import open_database
    from storage.records import FetchFailureRecord, ImageRecord

    long_id = "https://cdn.example.net/" + "x" * 5000
    db = open_database(db_url)
    try:
        result = writes.save_batch(
            db,
            1,
            None,
            [ImageRecord(sha256="b" * 64, uri=long_id, external_id=long_id)],
            failures=[FetchFailureRecord("https://x/2.jpg", "timeout")],
        )
        assert (result.new, result.failures) == (1, 1)
        with db.session() as session:
            assert session.execute(text("SELECT attempts FROM fetch_failures")).scalar_one() == 2
    finally:
        db.dispose()
