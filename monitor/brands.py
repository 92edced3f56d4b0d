"""Brand names checked against what the model knows, with a did-you-mean hint for a misspelt one.

The model's brands come from its bundle manifest (read as JSON, without TensorFlow) and from the
model versions registered in the database (brands an older model detected stay reportable).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from classifier.bundle import read_manifest
from classifier.errors import BundleError
from monitor.config import Settings
from monitor.errors import ConfigError
from storage.engine import Database
from storage.model_versions import known_classes


class UnknownBrand(ConfigError):
    """A brand name the model does not know."""


def bundle_classes(model_path: Path) -> list[str] | None:
    """The brands of the bundle at `model_path`, or None when nothing is there yet (BundleError when what is
    there is no readable bundle)."""
    path = Path(model_path)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return None
    return [str(brand) for brand in read_manifest(path)["classes"]]


def model_brands(settings: Settings, db: Database | None = None) -> set[str] | None:
    """Brands the configured bundle or any registered model version knows; None when there is no model yet."""
    known: set[str] = set()
    found = False
    try:
        classes = bundle_classes(settings.classifier.model)
    except BundleError:
        classes = None  # a broken bundle is `monitor config check`'s to report; the database may still know
    if classes is not None:
        known.update(classes)
        found = True
    if db is not None:
        stored = known_classes(db)
        known.update(stored)
        found = found or bool(stored)
    return known if found else None


def suggestion(name: str, known: Iterable[str]) -> str | None:
    """The known brand `name` most likely means (same letters in another case, or a close spelling)."""
    choices = sorted(known)
    for choice in choices:
        if choice.casefold() == name.casefold():
            return choice
    lowered = {choice.casefold(): choice for choice in choices}
    close = difflib.get_close_matches(name.casefold(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def check_brands(named: Iterable[tuple[str, str]], known: Iterable[str], model: Any = "the model") -> None:
    """Raise UnknownBrand for the first (where, brand) pair whose brand the model does not know."""
    known = set(known)
    for where, brand in named:
        if brand in known:
            continue
        close = suggestion(brand, known)
        hint = f"; did you mean {close!r}?" if close else ""
        raise UnknownBrand(
            f"{where}: {brand!r} is not a brand {model} knows{hint} (it knows: {', '.join(sorted(known)) or 'none'})"
        )


def configured_brands(settings: Settings) -> list[tuple[str, str]]:
    """Every brand name the config uses, with where it is written."""
    named = [(f"brands.own[{i}]", b) for i, b in enumerate(settings.brands.own)]
    named += [(f"brands.competitors[{i}]", b) for i, b in enumerate(settings.brands.competitors)]
    for i, campaign in enumerate(settings.campaigns):
        named.append((f"campaigns[{i}].brand", campaign.brand))
        named += [(f"campaigns[{i}].competitors[{j}]", c) for j, c in enumerate(campaign.competitors)]
    named += [(f"classifier.thresholds.{brand}", brand) for brand in settings.classifier.thresholds]
    return named


def campaign_brands(campaign: Any) -> list[tuple[str, str]]:
    """A campaign's brand and competitors, with where they come from."""
    label = f"campaign {campaign.name!r}"
    return [(f"{label} brand", campaign.brand), *((f"{label} competitor", c) for c in campaign.competitors)]
