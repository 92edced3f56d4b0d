"""Which test servers answer (PostgreSQL, Redis, RabbitMQ): probed once per process, skipped with a reason if not."""

from __future__ import annotations

import os
import re
import socket
from functools import cache
from urllib.parse import urlsplit

import pytest

PG_ENV = "MONITOR_TEST_DATABASE_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
SKIP_MARK = " unavailable: "  # every skip reason written here reads "<service> unavailable: <why>"
SERVICES = ("PostgreSQL", "Redis", "RabbitMQ")


def pg_base_url() -> str:
    """The PostgreSQL server for tests: $MONITOR_TEST_DATABASE_URL, else the default local one; skips if absent."""
    url, why = _postgres()
    if why:
        pytest.skip(f"PostgreSQL{SKIP_MARK}{why}")
    return url


def require_broker(url: str) -> None:
    """Skip the test (or module fixture) when the Celery broker at `url` does not answer."""
    name = "Redis" if url.startswith("redis") else "RabbitMQ"
    why = _broker(url)
    if why:
        pytest.skip(f"{name}{SKIP_MARK}{why}")


@cache
def _postgres() -> tuple[str, str | None]:
    explicit = os.environ.get(PG_ENV)
    url = explicit or PG_DEFAULT
    try:
        import psycopg

        psycopg.connect(re.sub(r"\+\w+(?=://)", "", url), connect_timeout=3).close()  # libpq wants no +driver
    except Exception as exc:
        if explicit:
            raise  # a server named on purpose must answer: failing beats a quiet skip
        where = urlsplit(url)
        cause = str(exc).strip().splitlines()[0].rpartition("failed: ")[2] if str(exc).strip() else type(exc).__name__
        return url, f"{where.hostname}:{where.port or 5432} does not answer ({cause}); start it or set {PG_ENV}"
    return url, None


@cache
def _broker(url: str) -> str | None:
    """None when the broker speaks its protocol on its port, else why not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (6379 if url.startswith("redis") else 5672)
    hello, expect = (b"PING\r\n", b"+PONG") if url.startswith("redis") else (b"AMQP\x00\x00\x09\x01", b"\x01")
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            sock.sendall(hello)
            reply = sock.recv(16)
    except OSError as exc:
        return f"nothing answers on {host}:{port} ({exc.strerror or exc})"
    if not reply.startswith(expect):
        return f"{host}:{port} answers, but not as {'Redis' if url.startswith('redis') else 'RabbitMQ'}"
    return None


def probe(name: str) -> str | None:
    """None when the named service answers, else why not (for the end-of-run summary; never raises)."""
    if name == "PostgreSQL":
        try:
            return _postgres()[1]
        except Exception as exc:
            return f"${PG_ENV} does not answer: {type(exc).__name__}"
    return _broker(REDIS if name == "Redis" else RABBITMQ)


def skipped_groups(skipped_reports: list) -> dict[str, tuple[int, str]]:
    """{service: (tests skipped, why)} from pytest's skipped reports."""
    groups: dict[str, tuple[int, str]] = {}
    for report in skipped_reports:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        for name in SERVICES:
            if reason.startswith(name + SKIP_MARK):
                count, _ = groups.get(name, (0, ""))
                groups[name] = (count + 1, reason[len(name + SKIP_MARK) :])
    return groups
