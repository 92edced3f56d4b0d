"""Alembic migrations shipped inside the package: upgrade, current revision, head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from storage.engine import WRITE_OPTION, describe_error, make_engine, normalize_url, sqlite_file
from storage.errors import DatabaseNotReady, StorageError
from storage.redaction import redact_url

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
    return DatabaseNotReady(f"database {redact_url(url)} is unreachable: {describe_error(exc)}")


def current(url: str | URL) -> str | None:
    """The revision the database is at, or None for an empty (or not yet created) database."""
    path = sqlite_file(normalize_url(url))
    if path is not None and not path.exists():
        return None  # do not create the file just by looking
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise _unreachable(url, exc) from exc
    finally:
        engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> str | None:
    """Migrate the database to `revision` (creating every table when empty); returns the revision now current."""
    path = sqlite_file(normalize_url(url))
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the folder for {redact_url(url)}: {exc}") from None
    engine = make_engine(url)
    config = alembic_config()
    try:
        try:
            connection = engine.connect()
        except SQLAlchemyError as exc:
            raise _unreachable(url, exc) from exc
        # One transaction (DDL is transactional on both databases), taken with a lock so two
        # processes upgrading at once run the migrations once.
        with connection, connection.execution_options(**{WRITE_OPTION: True}).begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"migrating {redact_url(url)} to {revision} failed: {describe_error(exc)}") from exc
    except CommandError as exc:
        raise StorageError(f"migrating {redact_url(url)} to {revision} failed: {exc}") from exc
    finally:
        engine.dispose()
    return current(url)
