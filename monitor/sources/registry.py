"""The source kinds: an explicit list of built-in ones plus third-party ones from the
`brand_monitor.sources` entry-point group (each entry point names a `Source` subclass)."""

from __future__ import annotations

import difflib
import logging
from importlib.metadata import EntryPoint, entry_points

from pydantic import ValidationError

from monitor.config import SourceSettings
from monitor.config_file import describe_problem
from monitor.errors import ConfigError
from monitor.sources.base import Source, SourceContext
from monitor.sources.fake import FakeSource
from monitor.sources.folder import FolderSource
from monitor.sources.json_api import JsonSource
from monitor.sources.jsonfeed import JsonFeedSource
from monitor.sources.rss import RssSource

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "brand_monitor.sources"
BUILTIN_KINDS: tuple[type[Source], ...] = (FakeSource, FolderSource, JsonSource, JsonFeedSource, RssSource)
_COMMON_KEYS = {"name", "kind", "preset", "interval", "enabled", "allow_private", "allow_null_island"}


def _entry_points() -> dict[str, EntryPoint]:
    """Third-party kinds by name (not loaded yet); a built-in kind's name cannot be taken."""
    builtin = {cls.kind for cls in BUILTIN_KINDS}
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in builtin:
            log.warning(
                "entry point %s = %s ignored: %r is a built-in source kind", point.name, point.value, point.name
            )
        else:
            found[point.name] = point
    return found


def kind_names() -> list[str]:
    """Every source kind's name: the built-in ones, then those installed packages add."""
    return [cls.kind for cls in BUILTIN_KINDS] + sorted(_entry_points())


def kinds() -> dict[str, type[Source]]:
    """Every source kind by name (loading third-party ones)."""
    found = {cls.kind: cls for cls in BUILTIN_KINDS}
    for name in _entry_points():
        found[name] = kind_class(name)
    return found


def kind_class(name: str) -> type[Source]:
    """The Source subclass of a kind; ConfigError when unknown or when a third-party kind is broken."""
    for cls in BUILTIN_KINDS:
        if cls.kind == name:
            return cls
    point = _entry_points().get(name)
    if point is None:
        available = kind_names()
        close = difflib.get_close_matches(name, available, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown source kind {name!r}{hint} (valid kinds: {', '.join(sorted(available))})")
    try:
        cls = point.load()
    except Exception as exc:  # a broken plugin names itself, it never takes the monitor down
        raise ConfigError(
            f"source kind {name!r} ({point.value}) cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        raise ConfigError(f"source kind {name!r} ({point.value}) is not a monitor.sources.base.Source subclass")
    return cls


def validate_options(source: SourceSettings, where: str) -> None:
    """Check a source's kind and its kind-specific fields."""
    try:
        cls = kind_class(source.kind)
    except ConfigError as exc:
        raise ConfigError(f"{where}.kind: {exc}") from None
    try:
        cls.Options.model_validate(source.options)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            valid = sorted(set(cls.Options.model_fields) | _COMMON_KEYS)
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{where}.{key}: unknown key for a {source.kind} source{hint} (valid keys: {', '.join(valid)})"
            ) from None
        text = describe_problem({**error, "loc": ("sources", "options", *error["loc"])})
        message = text.split(": ", 1)[1] if text and ": " in text else (text or error["msg"])
        raise ConfigError(f"{where}.{key}: {message}") from None


def build_source(source: SourceSettings, context: SourceContext | None = None) -> Source:
    """An instance of the source's kind, configured from its settings."""
    cls = kind_class(source.kind)
    return cls(source, cls.Options.model_validate(source.options), context or SourceContext())
