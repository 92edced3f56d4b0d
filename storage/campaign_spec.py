"""The one campaign model: a brand, inclusive dates, baseline and after windows, competitors; checked in one place.

Config entries (monitor.config), rows in the database (storage.campaigns) and reports
(reports.windows) all validate through `check_campaign`. Importing this module is cheap (no SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from storage.errors import InvalidCampaign

YEAR_RANGE = (1970, 2200)  # dates outside this are typos (9999), and windows around them overflow
MAX_WINDOW_DAYS = 36_500  # baseline / after windows: at most a century
MAX_NAME_CHARS = 200  # the campaigns table's name and brand columns


@dataclass(frozen=True)
class CampaignSpec:
    """One campaign as reports use it, wherever it was defined (`origin`: config, db or both)."""

    name: str
    brand: str
    start: date
    end: date
    baseline_days: int | None = None
    after_days: int | None = None
    competitors: tuple[str, ...] = field(default_factory=tuple)
    origin: str = "db"

    @property
    def length_days(self) -> int:
        return campaign_days(self.start, self.end)

    @property
    def brands(self) -> list[str]:
        """The campaign brand, then its competitors."""
        return list(dict.fromkeys([self.brand, *self.competitors]))


def campaign_days(start: date, end: date) -> int:
    """Days from start to end, both included."""
    return (end - start).days + 1


def check_campaign(
    name: str,
    brand: str,
    start: date,
    end: date,
    baseline_days: int | None = None,
    after_days: int | None = None,
    competitors: Sequence[str] = (),
) -> None:
    """Raise InvalidCampaign (a StorageError and a ValueError) naming what is wrong with these fields."""
    if not str(name).strip():
        raise InvalidCampaign("campaign name is empty")
    label = f"campaign {name!r}"
    if len(name) > MAX_NAME_CHARS:
        raise InvalidCampaign(f"{label}: the name is longer than {MAX_NAME_CHARS} characters")
    for what, value in (("brand", brand), *(("competitor", c) for c in competitors)):
        if not str(value).strip():
            raise InvalidCampaign(f"{label}: {what} is empty")
        if len(value) > MAX_NAME_CHARS:
            raise InvalidCampaign(f"{label}: {what} {value[:40]!r}... is longer than {MAX_NAME_CHARS} characters")
    low, high = YEAR_RANGE
    for what, day in (("start", start), ("end", end)):
        if not low <= day.year <= high:
            raise InvalidCampaign(f"{label}: {what} {day} is outside the years {low} to {high}")
    if end < start:
        raise InvalidCampaign(f"{label}: end {end} is before start {start}")
    for what, value in (("baseline_days", baseline_days), ("after_days", after_days)):
        if value is not None and not 0 < value <= MAX_WINDOW_DAYS:
            raise InvalidCampaign(
                f"{label}: {what} must be a positive number of days up to {MAX_WINDOW_DAYS} (got {value})"
            )


def new_campaign(
    name: str,
    brand: str,
    start: date,
    end: date,
    *,
    competitors: Iterable[str] = (),
    baseline_days: int | None = None,
    after_days: int | None = None,
) -> CampaignSpec:
    """A checked CampaignSpec from fields typed by a user (competitors deduplicated, the brand left out of them)."""
    unique = tuple(dict.fromkeys(c for c in competitors if c != brand))
    check_campaign(name, brand, start, end, baseline_days, after_days, unique)
    return CampaignSpec(name, brand, start, end, baseline_days, after_days, unique)


def check_spec(campaign: Any) -> None:
    """`check_campaign` on anything with the campaign fields (a config entry, a CampaignSpec)."""
    check_campaign(
        campaign.name,
        campaign.brand,
        campaign.start,
        campaign.end,
        campaign.baseline_days,
        campaign.after_days,
        tuple(campaign.competitors or ()),
    )


def from_settings(campaign: Any) -> CampaignSpec:
    """A CampaignSpec from a config entry (anything with the config's campaign fields)."""
    return CampaignSpec(
        name=campaign.name,
        brand=campaign.brand,
        start=campaign.start,
        end=campaign.end,
        baseline_days=campaign.baseline_days,
        after_days=campaign.after_days,
        competitors=tuple(campaign.competitors or ()),
        origin="config",
    )


def merge_campaigns(configured: Iterable[Any], stored: Iterable[CampaignSpec]) -> list[CampaignSpec]:
    """Config campaigns plus stored ones; on a name clash the config wins (origin `config (overrides db)`)."""
    merged = {c.name: c for c in stored}
    for entry in configured:
        spec = from_settings(entry)
        if spec.name in merged:
            spec = replace(spec, origin="config (overrides db)")
        merged[spec.name] = spec
    return sorted(merged.values(), key=lambda c: (c.start, c.name))
