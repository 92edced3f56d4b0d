"""The last guard before a row is written: text without NUL or lone surrogates, cut to its column; numbers in range.

Sources clean their fields at the boundary (monitor.sources); this keeps a field that slipped
through from failing the batch on a strict database (PostgreSQL refuses NUL and over-long text).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from storage.schema import FetchFailure, Image

BIGINT_MAX = 2**63 - 1
_TEXT_COLUMNS = ("uri", "external_id", "place", "caption", "author", "reject_reason", "reject_detail")


def column_length(table: Any, name: str) -> int | None:
    """The declared length of a text column (None for unbounded Text)."""
    return getattr(table.c[name].type, "length", None)


def clean_text(value: Any, limit: int | None = None) -> str | None:
    """Text that every database stores: NUL removed, lone surrogates replaced, at most `limit` characters."""
    if value is None:
        return None
    text = str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit] if limit is not None else text


def finite(value: Any) -> float | None:
    """The value as a finite float, or None (for None, booleans, text that is no number, NaN and infinities)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def clean_number(value: Any, low: float, high: float) -> Any:
    """The value when it is a finite number within [low, high], else None."""
    number = finite(value)
    return value if number is not None and low <= number <= high else None


def clean_moment(value: datetime | None) -> datetime | None:
    """The time when it can be expressed in UTC (a year-9999 time with an offset cannot), else None."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        return None


def clean_image_row(row: dict[str, Any]) -> dict[str, Any]:
    """An images row with its free text and numbers made storable (changed in place and returned)."""
    table = Image.__table__
    for name in _TEXT_COLUMNS:
        row[name] = clean_text(row[name], column_length(table, name))
    reach = clean_number(row["reach"], 0, BIGINT_MAX)
    row["reach"] = None if reach is None else int(reach)
    row["latitude"] = clean_number(row["latitude"], -90.0, 90.0)
    row["longitude"] = clean_number(row["longitude"], -180.0, 180.0)
    return row


def clean_failure_text(uri: str, reason: str, detail: str | None) -> tuple[str, str, str | None]:
    """A fetch failure's uri, reason and detail made storable."""
    table = FetchFailure.__table__
    return (clean_text(uri) or "", clean_text(reason, column_length(table, "reason")) or "unknown", clean_text(detail))
