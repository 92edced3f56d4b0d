"""Campaign definitions kept in the database, merged with those in the config file."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Iterable, Optional

from sqlalchemy import select

from storage.errors import StorageError
from storage.schema import Campaign


@dataclass(frozen=True)
class CampaignSpec:
    """One campaign as reports use it, wherever it was defined (`origin`: config, db or both)."""

    name: str
    brand: str
    start: date
    end: date
    baseline_days: Optional[int] = None
    after_days: Optional[int] = None
    competitors: tuple[str, ...] = field(default_factory=tuple)
    origin: str = "db"

    @property
    def length_days(self) -> int:
        return (self.end - self.start).days + 1


def _check(name: str, brand: str, start: date, end: date,
           baseline_days: Optional[int], after_days: Optional[int]) -> None:
    if not name.strip():
        raise StorageError("campaign name is empty")
    if not brand.strip():
        raise StorageError(f"campaign {name!r}: brand is empty")
    if end < start:
        raise StorageError(f"campaign {name!r}: end {end} is before start {start}")
    for label, value in (("baseline_days", baseline_days), ("after_days", after_days)):
        if value is not None and value <= 0:
            raise StorageError(f"campaign {name!r}: {label} must be a positive number of days (got {value})")


def _spec(row: Campaign) -> CampaignSpec:
    return CampaignSpec(name=row.name, brand=row.brand, start=row.start_date, end=row.end_date,
                        baseline_days=row.baseline_days, after_days=row.after_days,
                        competitors=tuple(row.competitors or ()), origin="db")


def upsert_campaign(db, name: str, brand: str, start: date, end: date, *,
                    competitors: Iterable[str] = (), baseline_days: Optional[int] = None,
                    after_days: Optional[int] = None) -> CampaignSpec:
    """Create the campaign, or replace the one stored under the same name."""
    _check(name, brand, start, end, baseline_days, after_days)
    competitors = list(dict.fromkeys(c for c in competitors if c != brand))
    with db.session(write=True) as session:
        row = session.scalars(select(Campaign).where(Campaign.name == name)).one_or_none()
        if row is None:
            row = Campaign(name=name)
            session.add(row)
        row.brand, row.start_date, row.end_date = brand, start, end
        row.baseline_days, row.after_days, row.competitors = baseline_days, after_days, competitors
        session.flush()
        return _spec(row)


def list_campaigns(db) -> list[CampaignSpec]:
    """Every campaign stored in the database, by start date then name."""
    with db.session() as session:
        rows = session.scalars(select(Campaign).order_by(Campaign.start_date, Campaign.name)).all()
        return [_spec(row) for row in rows]


def from_settings(campaign: Any) -> CampaignSpec:
    """A CampaignSpec from a config entry (anything with the config's campaign fields)."""
    return CampaignSpec(name=campaign.name, brand=campaign.brand, start=campaign.start, end=campaign.end,
                        baseline_days=campaign.baseline_days, after_days=campaign.after_days,
                        competitors=tuple(campaign.competitors or ()), origin="config")


def merge_campaigns(configured: Iterable[Any], stored: Iterable[CampaignSpec]) -> list[CampaignSpec]:
    """Config campaigns plus stored ones; on a name clash the config wins (origin `config (overrides db)`)."""
    merged = {c.name: c for c in stored}
    for entry in configured:
        spec = from_settings(entry)
        if spec.name in merged:
            spec = replace(spec, origin="config (overrides db)")
        merged[spec.name] = spec
    return sorted(merged.values(), key=lambda c: (c.start, c.name))


def get_campaign(db, name: str, configured: Iterable[Any] = ()) -> CampaignSpec:
    """The campaign called `name` (config first, then database), or a StorageError listing the known ones."""
    campaigns = merge_campaigns(configured, list_campaigns(db) if db is not None else [])
    for campaign in campaigns:
        if campaign.name == name:
            return campaign
    known = ", ".join(c.name for c in campaigns) or "none defined"
    raise StorageError(f"no campaign named {name!r} (known: {known}); add one with `monitor campaign add`")


def add_campaign(url: str, name: str, brand: str, start: date, end: date, *, competitors: Iterable[str] = (),
                 baseline_days: Optional[int] = None, after_days: Optional[int] = None,
                 configured: Iterable[Any] = ()) -> tuple[CampaignSpec, bool]:
    """Store a campaign in the database at `url`; also says whether a config campaign shadows it."""
    from storage.engine import open_database

    db = open_database(url)
    try:
        spec = upsert_campaign(db, name, brand, start, end, competitors=competitors,
                               baseline_days=baseline_days, after_days=after_days)
    finally:
        db.dispose()
    return spec, any(c.name == name for c in configured)


def all_campaigns(url: str, configured: Iterable[Any] = ()) -> list[CampaignSpec]:
    """Config and database campaigns merged (the config wins on a name clash)."""
    from storage.engine import open_database

    db = open_database(url)
    try:
        return merge_campaigns(configured, list_campaigns(db))
    finally:
        db.dispose()
