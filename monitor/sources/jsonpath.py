"""Paths into JSON items (`a.b.0.c`, `a[0].c`, `media[*].url`, `media_metadata.*.s.u`) and times in them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from monitor.sources.timeline import parse_time

MAX_MATCHES = 100  # values one wildcard path may give per item (a gallery is at most a few dozen photos)
_BRACKET = re.compile(r"\[(\*|-?\d+)\]")


def steps(path: str) -> list[str]:
    """A path's steps: `a[*].b` and `a.*.b` are both ['a', '*', 'b']."""
    return [step for step in _BRACKET.sub(r".\1", path).split(".") if step != ""]


def values_at(data: Any, path: str | None) -> list[Any]:
    """Every value a path reaches (`*` takes each element of a list or each value of an object), in order."""
    if not path:
        return []
    found = [data]
    for step in steps(path):
        following: list[Any] = []
        for value in found:
            if step == "*":
                following += (
                    list(value.values())
                    if isinstance(value, dict)
                    else (list(value) if isinstance(value, list) else [])
                )
            elif isinstance(value, dict):
                following.append(value.get(step))
            elif isinstance(value, list) and step.lstrip("-").isdigit():
                index = int(step)
                following.append(value[index] if -len(value) <= index < len(value) else None)
        found = [value for value in following if value is not None][:MAX_MATCHES]
        if not found:
            return []
    return found


def value_at(data: Any, path: str | None) -> Any:
    """The first value a path reaches, or None."""
    found = values_at(data, path)
    return found[0] if found else None


def parse_time_as(value: Any, time_format: str | None = None) -> datetime | None:
    """A time by `time_format` (strptime; naive means UTC) when it fits, else ISO 8601 or epoch s/ms."""
    if time_format and isinstance(value, str):
        try:
            moment = datetime.strptime(value.strip(), time_format)
        except ValueError:
            moment = None
        if moment is not None:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
    return parse_time(value)
