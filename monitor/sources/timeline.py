"""Helpers for feed-like sources: time parsing, dotted paths, and a compact (newest time + ids) cursor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

MAX_UNDATED_IDS = 1000


def parse_time(value: Any) -> Optional[datetime]:
    """An aware UTC datetime from ISO 8601 text or epoch seconds (naive means UTC); None if unusable."""
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            moment = datetime.fromtimestamp(float(value), timezone.utc)
        else:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def dotted(data: Any, path: Optional[str]) -> Any:
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
    time: Optional[datetime]
    payload: Any = None


@dataclass
class Timeline:
    """Which entries are newer than a cursor {time, ids at that time, recent undated ids}."""

    time: Optional[datetime] = None
    ids: list[str] = field(default_factory=list)
    undated: list[str] = field(default_factory=list)

    @classmethod
    def from_cursor(cls, cursor: Optional[dict[str, Any]]) -> "Timeline":
        cursor = cursor or {}
        return cls(parse_time(cursor.get("time")), list(cursor.get("ids") or []),
                   list(cursor.get("undated") or []))

    def cursor(self) -> dict[str, Any]:
        return {"time": self.time.isoformat() if self.time else None, "ids": list(self.ids),
                "undated": list(self.undated)}

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

    def newer(self, entries: list[Entry]) -> Iterator[tuple[Entry, dict[str, Any], dict[str, Any]]]:
        """New entries oldest first (undated first), each with the cursor before and after it."""
        ordered = sorted(entries, key=lambda e: (e.time is not None,
                                                 e.time or datetime.min.replace(tzinfo=timezone.utc)))
        seen: set[str] = set()
        for entry in ordered:
            if entry.id in seen or not self.is_new(entry):
                continue
            seen.add(entry.id)
            before = self.cursor()
            self.advance(entry)
            yield entry, before, self.cursor()
