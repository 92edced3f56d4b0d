"""`monitor report`: campaign (before / during / after) or date-range exposure reports as CSV and HTML."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the `report` command."""

    @app.command("report")
    def report(
        ctx: typer.Context,
        campaign: str | None = typer.Option(
            None, "--campaign", help="Campaign name (config or `monitor campaign add`)."
        ),
        start: datetime | None = typer.Option(
            None, "--from", formats=["%Y-%m-%d"], help="First day of a plain report (no campaign)."
        ),
        end: datetime | None = typer.Option(
            None, "--to", formats=["%Y-%m-%d"], help="Last day of a plain report, inclusive."
        ),
        formats: str = typer.Option("csv,html", "--format", help="csv, html or both (comma-separated)."),
        excel: bool = typer.Option(
            False,
            "--excel",
            help="CSV as UTF-8 with a byte-order mark, so Excel on Windows shows accents and emoji right.",
        ),
        out: Path | None = typer.Option(None, "--out", help="Output folder (default: paths.reports/NAME)."),
        by: str = typer.Option(
            "auto",
            "--by",
            help="Time series buckets: day, week, or auto (weeks unless the report spans under three weeks).",
        ),
        model_version: int | None = typer.Option(
            None, "--model-version", help="Model version id (default: the newest with detections)."
        ),
        exclude_reposts: bool = typer.Option(
            True, "--exclude-reposts/--include-reposts", help="Leave reposts out of counts and denominators."
        ),
        from_raw: bool = typer.Option(
            False, "--from-raw", hidden=True, help="Count from the raw tables, not the rollups (for checks)."
        ),
    ) -> None:
        """Write an exposure report: lift before/during/after a campaign vs competitors, or a date range.

        Example: monitor report --campaign spring-launch --format csv,html --by week
        Example: monitor report --from 2026-03-01 --to 2026-03-31 --out reports/march --excel
        """
        from monitor.campaigns import check_report_brands
        from reports.output import make_report

        settings = ctx.obj.settings
        check_report_brands(settings, campaign)
        result, paths = make_report(
            settings.database.url,
            out,
            formats,
            campaign=campaign,
            first=start.date() if start else None,
            last=end.date() if end else None,
            configured=settings.campaigns,
            tracked=settings.brands.tracked,
            own=settings.brands.own,
            reports_dir=settings.paths.reports,
            by=by,
            model_version=model_version,
            include_reposts=not exclude_reposts,
            raw=from_raw,
            excel=excel,
        )
        typer.echo(result.headline)
        for warning in result.warnings:
            typer.echo(f"note: {warning}")
        for path in paths:
            typer.echo(f"wrote {path}")
