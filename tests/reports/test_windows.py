"""Report windows from a campaign's inclusive dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from report_seed import Campaign
from reports.errors import ReportError
from reports.windows import campaign_windows, period_window, window_days


def test_default_baseline_and_after_match_the_campaign_length() -> None:
    before, during, after = campaign_windows(Campaign(start=date(2026, 3, 2), end=date(2026, 3, 15)))
    assert during.start == datetime(2026, 3, 2, tzinfo=UTC)
    assert during.end == datetime(2026, 3, 16, tzinfo=UTC)  # end date is inclusive
    assert before.end == during.start and after.start == during.end
    assert window_days((before, during, after)) == {"before": 14, "during": 14, "after": 14}
    assert before.first_day == date(2026, 2, 16) and after.last_day == date(2026, 3, 29)


def test_custom_baseline_and_after_days() -> None:
    before, during, after = campaign_windows(
        Campaign(start=date(2026, 3, 2), end=date(2026, 3, 2), baseline_days=28, after_days=7)
    )
    assert (before.days, during.days, after.days) == (28, 1, 7)
    assert during.contains_day(date(2026, 3, 2)) and not during.contains_day(date(2026, 3, 3))


def test_reversed_dates_are_a_report_error() -> None:
    with pytest.raises(ReportError, match="before start"):
        campaign_windows(Campaign(start=date(2026, 3, 5), end=date(2026, 3, 1)))
    with pytest.raises(ReportError, match="--to"):
        period_window(date(2026, 3, 5), date(2026, 3, 1))
    assert period_window(date(2026, 3, 1), date(2026, 3, 31)).days == 31
