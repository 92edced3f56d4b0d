"""`monitor alerts test|check|list`: try the alert channels, check the rules once, show recent alerts."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `alerts` group."""
    group = typer.Typer(help="Alerts when a brand's exposure jumps or drops.", no_args_is_help=True)

    @group.command("test")
    def test(ctx: typer.Context) -> None:
        """Send a sample alert to the configured webhook and mail now (nothing is recorded).

        Example: monitor alerts test
        """
        from monitor.alerts import send_sample
        from monitor.errors import ConfigError

        channels = send_sample(ctx.obj.settings)
        if not channels:
            raise ConfigError("no alert channel configured: set alerts.webhook and/or alerts.mail")
        typer.echo(f"sample alert sent to {' and '.join(channels)}")

    @group.command("check")
    def check(ctx: typer.Context) -> None:
        """Check the alert rules once now (as the daemon does after each poll) and deliver what is due.

        Example: monitor alerts check
        """
        from monitor.alerts import AlertMonitor
        from storage.engine import open_database

        db = open_database(ctx.obj.settings.database.url)
        try:
            created = AlertMonitor(ctx.obj.settings, db).check()
        finally:
            db.dispose()
        typer.echo(f"{len(created)} new alert(s)")

    @group.command("list")
    def list_(ctx: typer.Context, limit: int = typer.Option(20, "--limit", help="How many, newest first.")) -> None:
        """Show recent alerts and scheduled reports with their delivery.

        Example: monitor alerts list --limit 5
        """
        from monitor.alerts import notification_lines
        from storage.engine import open_database

        db = open_database(ctx.obj.settings.database.url)
        try:
            for line in notification_lines(db, limit) or ["no alerts or scheduled reports yet"]:
                typer.echo(line)
        finally:
            db.dispose()

    app.add_typer(group, name="alerts")
