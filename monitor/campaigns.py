"""Campaigns the user adds from the command line, their brands checked against the model first."""

from __future__ import annotations

from monitor.brands import campaign_brands, check_brands, model_brands
from monitor.config import Settings
from storage.campaign_spec import CampaignSpec, merge_campaigns
from storage.campaigns import add_campaign, list_campaigns
from storage.engine import open_database


def add_checked_campaign(settings: Settings, spec: CampaignSpec) -> tuple[CampaignSpec, bool, bool]:
    """Store the checked spec once its brands check out: (stored spec, shadowed by the config, brands checked)."""
    db = open_database(settings.database.url)
    try:
        known = model_brands(settings, db)
    finally:
        db.dispose()
    if known is not None:
        check_brands(campaign_brands(spec), known)
    stored, shadowed = add_campaign(settings.database.url, spec, configured=settings.campaigns)
    return stored, shadowed, known is not None


def check_report_brands(settings: Settings, campaign: str | None) -> None:
    """Before a report: the campaign's brands and the tracked ones must be brands the model knows (when known)."""
    db = open_database(settings.database.url)
    try:
        known = model_brands(settings, db)
        if known is None:
            return
        named = [(f"brands.tracked[{i}]", b) for i, b in enumerate(settings.brands.tracked)]
        if campaign is not None:
            for spec in merge_campaigns(settings.campaigns, list_campaigns(db)):
                if spec.name == campaign:
                    named = campaign_brands(spec) + named
    finally:
        db.dispose()
    check_brands(named, known)
