"""Image sources: one module per kind, registered by its `kind` in one dict."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config import SourceSettings


def validate_source_options(source: "SourceSettings", where: str) -> None:
    """Check a source's kind-specific fields; raise ConfigError naming the key on a problem."""
    # Filled in by the sources registry (monitor.sources.registry).
    from monitor.sources.registry import validate_options

    validate_options(source, where)
