"""Helpers for feed-like sources: time parsing, dotted paths, and a compact (newest time + ids) cursor."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.sources.clean import FUTURE_SKEW

MAX_UNDATED_IDS = 1000
EPOCH_MS_FROM = 100_000_000_000  # epoch numbers from here on are milliseconds (seconds would be year 5138+)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text or epoch seconds or milliseconds (naive means UTC); None if
    unusable (including times that cannot be expressed in UTC, such as year 9999 with an offset)."""
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            value = float(value)
        if isinstance(value, (int, float)):
            seconds = float(value) / 1000 if abs(value) >= EPOCH_MS_FROM else float(value)
            moment = datetime.fromtimestamp(seconds, UTC)
        else:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def dotted(data: Any, path: str | None) -> Any:
    """The value at a dotted path (`a.b.0.c`) or None when any step is missing."""
    if not path:
        return None
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.lstrip("-").isdigit():
            index = int(part)
            data = data[index] if -len(data) <= index < len(data) else None
        else:
            return None
        if data is None:
            return None
    return data


@dataclass
class Entry:
    """One feed entry: its id, time and the refs' payload."""

    id: str
    time: datetime | None  # what the cursor orders by (None: undated, or dated in the future)
    payload: Any = None
    claimed: datetime | None = None  # a future time the entry claimed (kept for the ref; cleaned later)

    @property
    def posted(self) -> datetime | None:
        """The time the entry says it was posted."""
        return self.time or self.claimed


@dataclass
class Timeline:
    """Which entries are newer than a cursor {time, ids at that time, recent undated ids}."""

    time: datetime | None = None
    ids: list[str] = field(default_factory=list)
    undated: list[str] = field(default_factory=list)

    @classmethod
    def from_cursor(cls, cursor: dict[str, Any] | None) -> Timeline:
        cursor = cursor or {}
        time, ids = parse_time(cursor.get("time")), list(cursor.get("ids") or [])
        if time is not None and time > datetime.now(UTC) + FUTURE_SKEW:
            # Stored before future dates were kept out of cursors: start over (stored photos dedupe by sha256)
            # rather than skip every post older than that date for good.
            time, ids = None, []
        return cls(time, ids, list(cursor.get("undated") or []))

    def cursor(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat() if self.time else None,
            "ids": list(self.ids),
            "undated": list(self.undated),
        }

    def is_new(self, entry: Entry) -> bool:
        if entry.time is None:
            return entry.id not in self.undated
        if self.time is None or entry.time > self.time:
            return True
        return entry.time == self.time and entry.id not in self.ids

    def advance(self, entry: Entry) -> None:
        if entry.time is None:
            self.undated = (self.undated + [entry.id])[-MAX_UNDATED_IDS:]
        elif self.time is None or entry.time > self.time:
            self.time, self.ids = entry.time, [entry.id]
        elif entry.time == self.time and entry.id not in self.ids:
            self.ids.append(entry.id)

    def newer(
        self, entries: list[Entry], now: datetime | None = None
    ) -> Iterator[tuple[Entry, dict[str, Any], dict[str, Any]]]:
        """New entries oldest first (undated first), each with the cursor before and after it.

        An entry dated beyond now (and the allowed skew) counts as undated here, so it never moves the
        cursor's time past now (which would hide every later post)."""
        latest = (now or datetime.now(UTC)) + FUTURE_SKEW
        entries = [e if e.time is None or e.time <= latest else Entry(e.id, None, e.payload, e.time) for e in entries]
        ordered = sorted(entries, key=lambda e: (e.time is not None, e.time or datetime.min.replace(tzinfo=UTC)))
        seen: set[str] = set()
        for entry in ordered:
            if entry.id in seen or not self.is_new(entry):
                continue
            seen.add(entry.id)
            before = self.cursor()
            self.advance(entry)
            yield entry, before, self.cursor()
