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
    offenders = [str(path.relative_to(ROOT)) for package in ("monitor", "storage", "reports", "classifier")
                 for path in (ROOT / package).rglob("*.py")
                 if re.search(r"\bcreate_all\s*\(", path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_migration_scripts_are_package_data() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    shipped = [path.relative_to(ROOT / "storage") for path in (ROOT / "storage" / "migrations").rglob("*")
               if path.is_file() and path.suffix in (".py", ".mako")]
    assert shipped
    patterns = re.search(r'^storage = \[(.*)\]$', text, re.M).group(1)
    globs = [p.strip().strip('"') for p in patterns.split(",")]
    for path in shipped:
        assert any(path.match(glob) for glob in globs), f"{path} is not in [tool.setuptools.package-data]"
