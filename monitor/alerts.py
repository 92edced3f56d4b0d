"""Alerts: a brand's recent rate per photo against its trailing weeks; each alert recorded once, then delivered."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from monitor.delivery import Targets, deliver_due
from monitor.notify_settings import AlertRule
from storage import alerts as store
from storage import quality, queries

log = logging.getLogger("monitor.alerts")
KIND = "alert"


@dataclass(frozen=True)
class Finding:
    """One brand that crossed a rule's threshold."""

    rule: AlertRule
    brand: str
    first_day: date
    last_day: date
    photos: int
    images: int
    trailing_photos: int
    trailing_images: int

    @property
    def ratio(self) -> float:
        """Recent rate / trailing rate (inf when the brand was not seen in the trailing weeks)."""
        if self.trailing_photos == 0:
            return math.inf
        return (self.photos / self.images) / (self.trailing_photos / self.trailing_images)

    @property
    def period(self) -> str:
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    def message(self) -> str:
        """One plain sentence for the webhook and the mail."""
        moved = "rose" if self.rule.direction == "rise" else "dropped"
        ratio = "∞" if math.isinf(self.ratio) else f"{self.ratio:.1f}x"
        when = self.last_day.isoformat() if self.first_day == self.last_day else self.period
        usual = 1000 * self.trailing_photos / self.trailing_images
        return (
            f"{self.brand} {moved} to {ratio} its usual rate: {self.photos:,} of {self.images:,} photos "
            f"({1000 * self.photos / self.images:.1f} per 1,000) on {when}, against {usual:.1f} per 1,000 over "
            f"the {self.rule.trailing_weeks} weeks before (alert {self.rule.name!r}; raw counts)."
        )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def crossed(rule: AlertRule, photos: int, images: int, trailing_photos: int, trailing_images: int) -> bool:
    """Whether the recent counts cross the rule: a rate ratio past `ratio` on at least `min_count` photos."""
    if images == 0 or trailing_images == 0:
        return False
    trailing_rate = trailing_photos / trailing_images
    if rule.direction == "rise":
        return photos >= rule.min_count and photos / images >= rule.ratio * trailing_rate
    expected = trailing_rate * images  # a drop needs enough photos expected to tell it from noise
    return expected >= rule.min_count and photos / images <= trailing_rate / rule.ratio


def evaluate(db: Any, rules: list[AlertRule], now: datetime, include_reposts: bool = False) -> list[Finding]:
    """Every (rule, brand) that crosses its threshold on the UTC days up to `now`'s day."""
    version = quality.latest_model_version(db)
    if version is None:
        return []
    today = now.astimezone(UTC).date()
    findings = []
    for rule in rules:
        first = today - timedelta(days=rule.days - 1)
        trail_first = first - timedelta(weeks=rule.trailing_weeks)
        start, end = _day_start(trail_first), _day_start(today + timedelta(days=1))
        photos: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # brand -> [recent, trailing]
        for row in queries.brand_counts_by_day(db, version, start, end, include_reposts):
            photos[row["brand"]][0 if _as_date(row["day"]) >= first else 1] += int(row["photos"] or 0)
        images = [0, 0]
        for row in queries.images_by_day(db, start, end, include_reposts):
            images[0 if _as_date(row["day"]) >= first else 1] += int(row["images"] or 0)
        brands = sorted(photos) if rule.brand == "*" else [rule.brand]
        for brand in brands:
            recent, trailing = photos.get(brand, [0, 0])
            if crossed(rule, recent, images[0], trailing, images[1]):
                findings.append(Finding(rule, brand, first, today, recent, images[0], trailing, images[1]))
    return findings


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


class AlertMonitor:
    """Checks the rules (after each poll), records each alert once, and delivers what is due."""

    def __init__(self, settings: Any, db: Any):
        self.settings = settings
        self.alerts = settings.alerts
        self.db = db
        self.targets = Targets(self.alerts.webhook, self.alerts.mail)

    def check(self, now: datetime | None = None) -> list[int]:
        """Record new alerts (not within a rule's cool-down for that brand) and deliver; returns the new ids."""
        now = now or datetime.now(UTC)
        created = []
        for finding in evaluate(self.db, self.alerts.rules, now, self.alerts.include_reposts):
            last = store.last_created(self.db, KIND, finding.rule.name, finding.brand)
            if last is not None and now - last < timedelta(seconds=finding.rule.cooldown):
                continue
            detail = {
                "ratio": None if math.isinf(finding.ratio) else finding.ratio,
                "photos": finding.photos,
                "images": finding.images,
                "trailing_photos": finding.trailing_photos,
                "trailing_images": finding.trailing_images,
                "direction": finding.rule.direction,
            }
            new = store.record(
                self.db,
                KIND,
                finding.rule.name,
                finding.period,
                finding.message(),
                brand=finding.brand,
                detail=detail,
                channels=self.targets.channels,
                now=now,
            )
            if new is not None:
                log.info("alert: %s", finding.message())
                created.append(new)
        deliver_due(self.db, lambda _row: self.targets, self.alerts.retry_after, now, kind=KIND)
        return created


def send_sample(settings: Any) -> list[str]:
    """Send a sample alert to every configured channel now (not recorded); returns the channels that took it."""
    from monitor.delivery import send

    targets = Targets(settings.alerts.webhook, settings.alerts.mail)
    text = "Sample alert from the brand exposure monitor: Acme rose to 2.4x its usual rate (this is a test)."
    for channel in targets.channels:
        send(targets, channel, "[monitor] alert test", text)
    return targets.channels


def notification_lines(db: Any, limit: int = 10) -> list[str]:
    """Recent alerts and scheduled reports, one line each, with where they were delivered (for status)."""
    lines = []
    for row in store.recent(db, limit):
        channels = [c for c in row["channels"].split(",") if c]
        delivered = [c for c in row["delivered"].split(",") if c]
        if not channels:
            state = "no channel configured"
        elif set(channels) <= set(delivered):
            state = f"sent to {', '.join(delivered)}"
        else:
            state = f"not yet delivered ({row['attempts']} tries): {row['last_error'] or 'pending'}"
        when = row["created_at"].strftime("%Y-%m-%d %H:%M UTC")
        text = row["message"].splitlines()[0]
        lines.append(f"{when} {row['kind']} {row['name']}: {text} [{state}]")
    return lines
