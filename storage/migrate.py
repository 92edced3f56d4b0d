"""Alembic migrations shipped inside the package: upgrade, current revision, head."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import describe_error, make_engine, redact
from storage.errors import DatabaseNotReady, StorageError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 7_301_994_211  # any fixed number: serialises concurrent upgrades of one database


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged scripts; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision the shipped migrations know."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _unreachable(url: str | URL, exc: BaseException) -> DatabaseNotReady:
    return DatabaseNotReady(f"database {redact(url)} is unreachable: {describe_error(exc)}")


def current(url: str | URL) -> Optional[str]:
    """The revision the database is at, or None for an empty database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise _unreachable(url, exc) from exc
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> Optional[str]:
    """Migrate the database to `revision` (creating every table when empty); returns the revision now current."""
    engine = make_engine(url)
    config = alembic_config()
    try:
        # One transaction (DDL is transactional on both databases), taken with a lock so two
        # processes upgrading at once run the migrations once.
        with engine.connect() as connection:
            connection = connection.execution_options(monitor_begin_immediate=True)
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise _unreachable(url, exc) if _is_connect_error(exc) else StorageError(
            f"migrating {redact(url)} to {revision} failed: {describe_error(exc)}") from exc
    except CommandError as exc:
        raise StorageError(f"migrating {redact(url)} to {revision} failed: {exc}") from exc
    finally:
        engine.dispose()
    return current(url)


def _is_connect_error(exc: SQLAlchemyError) -> bool:
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError) and exc.connection_invalidated or "connect" in str(exc).lower()
