"""What `monitor config check` checks beyond the file itself: folders exist, feeds answer, the bundle loads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.sources.base import HttpSource, SourceContext
from monitor.sources.registry import build_source


@dataclass(frozen=True)
class Check:
    """One check's outcome, as one line."""

    what: str
    ok: bool
    detail: str


def folder_checks(settings: Settings) -> list[Check]:
    """Every enabled folder source's folder exists and can be listed."""
    base = settings.config_path.parent if settings.config_path else Path.cwd()
    checks = []
    for source in settings.sources:
        if source.kind != "folder" or not source.enabled:
            continue
        path = Path(os.path.expanduser(str(source.options.get("path", ""))))
        path = path if path.is_absolute() else base / path
        if not path.is_dir():
            checks.append(Check(f"folder {source.name}", False, f"{path} is not a folder (create it, or fix path)"))
        elif not os.access(path, os.R_OK | os.X_OK):
            checks.append(Check(f"folder {source.name}", False, f"{path} cannot be read by this user"))
        else:
            checks.append(Check(f"folder {source.name}", True, str(path)))
    return checks


def feed_checks(settings: Settings) -> list[Check]:
    """Every enabled HTTP source answers with something it can read (its pages only; no photo is fetched)."""
    context = SourceContext.from_settings(settings)
    checks = []
    for settings_of in settings.sources:
        if not settings_of.enabled:
            continue
        try:
            source = build_source(settings_of, context)
        except MonitorError as exc:
            checks.append(Check(f"feed {settings_of.name}", False, str(exc)))
            continue
        try:
            if not isinstance(source, HttpSource):
                continue
            photos = sum(1 for _ in source.poll(None))
            notes = f"; {'; '.join(source.warnings)}" if source.warnings else ""
            checks.append(Check(f"feed {settings_of.name}", True, f"answers: {photos} photo(s) listed{notes}"))
        except MonitorError as exc:
            checks.append(Check(f"feed {settings_of.name}", False, str(exc)))
        finally:
            source.close()
    return checks


def bundle_check(settings: Settings) -> list[Check]:
    """The model bundle loads (TensorFlow; only when a bundle is there)."""
    from classifier import LogoClassifier
    from classifier.errors import ClassifierError

    model = settings.classifier.model
    try:
        LogoClassifier.load(model, settings.classifier.precision)
    except ClassifierError as exc:
        return [Check("model", False, f"{model} does not load: {exc}")]
    return [Check("model", True, f"{model} loads")]
