"""Image sources: one module per kind, each a `base.Source` subclass listed in `registry`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.config import SourceSettings


def validate_source_options(source: SourceSettings, where: str) -> None:
    """Check a source's kind-specific fields; raise ConfigError naming the key on a problem."""
    # Imported here: monitor.config calls this while validating, and the kinds import monitor.config.
    from monitor.sources.registry import validate_options

    validate_options(source, where)
