"""`monitor config ...` commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `config` group."""
    group = typer.Typer(help="Check the configuration file.", no_args_is_help=True)

    @group.command("check")
    def check(ctx: typer.Context) -> None:
        """Validate the config file and summarise it.

        Example: monitor --config config.yaml config check
        """
        settings = ctx.obj.settings
        typer.echo(f"{settings.config_path}: OK")
        typer.echo(f"  database: {settings.database.url}")
        typer.echo(f"  brands: {', '.join(settings.brands.tracked) or '(none)'}")
        typer.echo(f"  sources: {', '.join(f'{s.name} ({s.kind})' for s in settings.sources) or '(none)'}")
        typer.echo(f"  campaigns: {', '.join(c.name for c in settings.campaigns) or '(none)'}")
        typer.echo(f"  model: {settings.classifier.model}")

    app.add_typer(group, name="config")
