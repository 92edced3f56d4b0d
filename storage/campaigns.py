"""Campaign definitions kept in the database, merged with those in the config file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select

from storage.campaign_spec import CampaignSpec, check_spec, from_settings, merge_campaigns, new_campaign
from storage.engine import Database, open_database
from storage.errors import StorageError
from storage.schema import Campaign

__all__ = [
    "CampaignSpec",
    "add_campaign",
    "all_campaigns",
    "from_settings",
    "get_campaign",
    "list_campaigns",
    "merge_campaigns",
    "new_campaign",
    "remove_campaign",
    "upsert_campaign",
]


def _spec(row: Campaign) -> CampaignSpec:
    return CampaignSpec(
        name=row.name,
        brand=row.brand,
        start=row.start_date,
        end=row.end_date,
        baseline_days=row.baseline_days,
        after_days=row.after_days,
        competitors=tuple(row.competitors or ()),
        origin="db",
    )


def upsert_campaign(db: Database, spec: CampaignSpec) -> CampaignSpec:
    """Create the campaign, or replace the one stored under the same name (InvalidCampaign when a field is bad)."""
    check_spec(spec)  # new_campaign checked it already; a spec built by hand must not reach the table unchecked
    with db.session(write=True) as session:
        row = session.scalars(select(Campaign).where(Campaign.name == spec.name)).one_or_none()
        if row is None:
            row = Campaign(name=spec.name)
            session.add(row)
        row.brand, row.start_date, row.end_date = spec.brand, spec.start, spec.end
        row.baseline_days, row.after_days = spec.baseline_days, spec.after_days
        row.competitors = list(spec.competitors)
        session.flush()
        return _spec(row)


def list_campaigns(db: Database) -> list[CampaignSpec]:
    """Every campaign stored in the database, by start date then name."""
    with db.session() as session:
        rows = session.scalars(select(Campaign).order_by(Campaign.start_date, Campaign.name)).all()
        return [_spec(row) for row in rows]


def get_campaign(db: Database | None, name: str, configured: Iterable[Any] = ()) -> CampaignSpec:
    """The campaign called `name` (config first, then database), or a StorageError listing the known ones."""
    campaigns = merge_campaigns(configured, list_campaigns(db) if db is not None else [])
    for campaign in campaigns:
        if campaign.name == name:
            return campaign
    known = ", ".join(c.name for c in campaigns) or "none defined"
    raise StorageError(f"no campaign named {name!r} (known: {known}); add one with `monitor campaign add`")


def add_campaign(url: str, spec: CampaignSpec, configured: Iterable[Any] = ()) -> tuple[CampaignSpec, bool]:
    """Store a campaign in the database at `url`; also says whether a config campaign shadows it."""
    db = open_database(url)
    try:
        stored = upsert_campaign(db, spec)
    finally:
        db.dispose()
    return stored, any(c.name == spec.name for c in configured)


def all_campaigns(url: str, configured: Iterable[Any] = ()) -> list[CampaignSpec]:
    """Config and database campaigns merged (the config wins on a name clash)."""
    db = open_database(url)
    try:
        return merge_campaigns(configured, list_campaigns(db))
    finally:
        db.dispose()


def remove_campaign(url: str, name: str, configured: Iterable[Any] = ()) -> None:
    """Delete the campaign stored under `name`; False when the database has none (a config one stays)."""
    db = open_database(url)
    try:
        with db.session(write=True) as session:
            removed = session.execute(delete(Campaign).where(Campaign.name == name)).rowcount
    finally:
        db.dispose()
    if not removed:
        in_config = any(c.name == name for c in configured)
        known = ", ".join(c.name for c in all_campaigns(url)) or "none stored"
        raise StorageError(
            f"campaign {name!r} is defined in the config file; remove it there"
            if in_config
            else f"no campaign named {name!r} in the database (stored: {known})"
        )
