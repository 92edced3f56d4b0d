"""The one dict of source kinds; each module under monitor.sources registers its class."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.config import SourceSettings

REGISTRY: dict[str, Any] = {}
_NOT_KINDS = {"base", "registry"}
_loaded = False


def register(cls: Any) -> Any:
    """Class decorator: make a source kind available under `cls.kind`."""
    REGISTRY[cls.kind] = cls
    return cls


def kinds() -> dict[str, Any]:
    """Every registered kind, importing the kind modules once."""
    global _loaded
    if not _loaded:
        import monitor.sources as package

        for module in pkgutil.iter_modules(package.__path__):
            if module.name not in _NOT_KINDS:
                importlib.import_module(f"monitor.sources.{module.name}")
        _loaded = True
    return REGISTRY


def validate_options(source: "SourceSettings", where: str) -> None:
    """Check a source's kind and its kind-specific fields."""
    available = kinds()
    if source.kind not in available:
        close = difflib.get_close_matches(source.kind, list(available), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where}.kind: unknown source kind {source.kind!r}{hint} "
                          f"(valid kinds: {', '.join(sorted(available))})")
    options_model = available[source.kind].Options
    try:
        options_model.model_validate(source.options)
    except ValidationError as exc:
        from monitor.config import _describe  # same wording as the rest of the file

        error = exc.errors()[0]
        text = _describe({**error, "loc": ()}) if error["type"] != "extra_forbidden" else None
        key = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            valid = sorted(set(options_model.model_fields) | {"name", "kind", "interval", "enabled", "allow_private"})
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}.{key}: unknown key for a {source.kind} source{hint} "
                              f"(valid keys: {', '.join(valid)})") from None
        message = text.split(": ", 1)[1] if text and ": " in text else (text or error["msg"])
        raise ConfigError(f"{where}.{key}: {message}") from None


def build_source(source: "SourceSettings", **context: Any) -> Any:
    """An instance of the source's kind, configured from its settings."""
    cls = kinds()[source.kind]
    return cls(source, cls.Options.model_validate(source.options), **context)
