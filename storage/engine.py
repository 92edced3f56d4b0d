"""Engines and sessions for SQLite and PostgreSQL, with driver errors wrapped into StorageError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import DatabaseNotReady, StorageError
from storage.redaction import redact_text, redact_url

SQLITE_BUSY_TIMEOUT_S = 30
WRITE_OPTION = "monitor_begin_immediate"


def normalize_url(url: str | URL) -> URL:
    """The URL as SQLAlchemy should see it: plain `postgresql://` goes through psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"invalid database URL {redact_url(url)!r}: {redact_text(exc)}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file behind a SQLite URL (None for in-memory databases and other backends)."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite(engine: Engine, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is broken).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the lock up front, so two writers queue (busy timeout) instead of
        # one failing with SQLITE_BUSY when it upgrades a read transaction.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str | URL, echo: bool = False) -> Engine:
    """An engine for the URL: SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL uses psycopg 3."""
    parsed = normalize_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = sqlite_file(parsed)
            engine = create_engine(parsed, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            _configure_sqlite(engine, wal=path is not None)
            return engine
        return create_engine(parsed, echo=echo, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, OSError) as exc:
        raise StorageError(f"cannot use database {redact_url(parsed)}: {redact_text(exc)}") from None


def describe_error(exc: BaseException) -> str:
    """One line from a driver error: the driver's own message, without SQLAlchemy's boilerplate."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return redact_text(lines[0]) if lines else type(original).__name__


class Database:
    """An engine plus a session factory; `session()` commits on success and rolls back on error."""

    def __init__(self, url: str | URL, echo: bool = False):
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """One transaction; `write=True` takes SQLite's write lock at BEGIN (for writers racing others)."""
        factory = self._write_sessions if write else self._sessions
        try:
            with factory.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"database error on {redact_url(self.url)}: {describe_error(exc)}") from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"


def open_database(url: str | URL, upgrade: bool = False, echo: bool = False) -> Database:
    """A Database whose schema is at the migrations' head (migrated first when `upgrade`)."""
    from storage import migrate

    if upgrade:
        migrate.upgrade(url)
    at, head = migrate.current(url), migrate.head()
    if at != head:
        raise DatabaseNotReady(
            f"database {redact_url(url)} is at revision {at or 'none (empty)'}, head is {head}: "
            "run `monitor db upgrade`"
        )
    return Database(url, echo=echo)
