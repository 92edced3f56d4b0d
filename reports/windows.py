"""Report windows: before (baseline), during (campaign) and after, as UTC [start, end) datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from reports.errors import ReportError
from storage.campaign_spec import check_spec
from storage.errors import InvalidCampaign

WINDOW_NAMES = ("before", "during", "after")


@dataclass(frozen=True)
class Window:
    """A named half-open UTC interval covering whole days."""

    name: str
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    def contains_day(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def campaign_windows(campaign: Any) -> tuple[Window, Window, Window]:
    """Before, during and after windows from a campaign's inclusive start/end dates."""
    try:
        check_spec(campaign)  # the one campaign check, shared with the config and the database
    except InvalidCampaign as exc:
        raise ReportError(str(exc)) from None
    length = (campaign.end - campaign.start).days + 1
    baseline = campaign.baseline_days or length
    after = campaign.after_days or length
    start, end = day_start(campaign.start), day_start(campaign.end) + timedelta(days=1)
    return (
        Window("before", start - timedelta(days=baseline), start),
        Window("during", start, end),
        Window("after", end, end + timedelta(days=after)),
    )


def period_window(first: date, last: date) -> Window:
    """One window covering the inclusive dates `first`..`last`."""
    if last < first:
        raise ReportError(f"--to {last} is before --from {first}")
    return Window("period", day_start(first), day_start(last) + timedelta(days=1))


def window_days(windows: tuple[Window, ...] | list[Window]) -> dict[str, int]:
    """Number of days in each window, by name."""
    return {w.name: w.days for w in windows}
