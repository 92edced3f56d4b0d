"""`monitor campaign add|list|remove`: campaigns kept in the database beside those in the config file."""

from __future__ import annotations

from datetime import datetime

import typer


def register(app: typer.Typer) -> None:
    """Add the `campaign` group."""
    group = typer.Typer(help="Define campaigns to report on.", no_args_is_help=True)

    @group.command("add")
    def add(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Campaign name."),
        brand: str = typer.Option(..., "--brand", help="The brand the campaign promotes."),
        start: datetime = typer.Option(..., "--start", formats=["%Y-%m-%d"], help="First day (UTC)."),
        end: datetime = typer.Option(..., "--end", formats=["%Y-%m-%d"], help="Last day, inclusive."),
        competitor: list[str] | None = typer.Option(None, "--competitor", help="Competitor brand (repeatable)."),
        baseline_days: int | None = typer.Option(
            None, "--baseline-days", help="Days before the start to compare with (default: campaign length)."
        ),
        after_days: int | None = typer.Option(
            None, "--after-days", help="Days after the end to check (default: campaign length)."
        ),
    ) -> None:
        """Store a campaign in the database (replacing one of the same name); brands must be ones the model knows.

        Example: monitor campaign add spring --brand Acme --start 2026-03-02 --end 2026-03-15 --competitor Globex
        """
        from monitor.campaigns import add_checked_campaign
        from storage.campaign_spec import new_campaign

        draft = new_campaign(
            name,
            brand,
            start.date(),
            end.date(),
            competitors=competitor or [],
            baseline_days=baseline_days,
            after_days=after_days,
        )
        spec, shadowed, checked = add_checked_campaign(ctx.obj.settings, draft)
        typer.echo(
            f"campaign {spec.name!r}: {spec.brand} from {spec.start} to {spec.end}"
            + (f" against {', '.join(spec.competitors)}" if spec.competitors else "")
        )
        if not checked:
            typer.echo("note: no model yet to check the brand names against (train one with `monitor train`)")
        if shadowed:
            typer.echo(f"note: the config file also defines {spec.name!r}; the config's definition wins in reports")

    @group.command("list")
    def list_(ctx: typer.Context) -> None:
        """List campaigns from the config file and the database (the config wins on a name clash).

        Example: monitor campaign list
        """
        from storage.campaigns import all_campaigns

        settings = ctx.obj.settings
        campaigns = all_campaigns(settings.database.url, settings.campaigns)
        if not campaigns:
            typer.echo("no campaigns: add one with `monitor campaign add` or in the config file")
        for c in campaigns:
            rivals = f" vs {', '.join(c.competitors)}" if c.competitors else ""
            typer.echo(f"{c.name}\t{c.brand}{rivals}\t{c.start} to {c.end}\t[{c.origin}]")

    @group.command("remove")
    def remove(ctx: typer.Context, name: str = typer.Argument(..., help="Campaign name.")) -> None:
        """Delete a campaign stored in the database (one in the config file is removed by editing the file).

        Example: monitor campaign remove spring
        """
        from storage.campaigns import remove_campaign

        settings = ctx.obj.settings
        remove_campaign(settings.database.url, name, settings.campaigns)
        typer.echo(f"campaign {name!r} removed")

    app.add_typer(group, name="campaign")
