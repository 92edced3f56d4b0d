"""Exposure reports: SQL aggregates -> pandas frames -> CSV and self-contained HTML."""

from __future__ import annotations

from typing import Any

__all__ = ["build_campaign_report", "build_period_report", "write_report"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import reports` stays cheap for the CLI.
    if name == "build_campaign_report":
        from reports.campaign import build_campaign_report

        return build_campaign_report
    if name == "build_period_report":
        from reports.period import build_period_report

        return build_period_report
    if name == "write_report":
        from reports.output import write_report

        return write_report
    raise AttributeError(name)
