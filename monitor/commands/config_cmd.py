"""`monitor config ...` commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `config` group."""
    group = typer.Typer(help="Check the configuration file.", no_args_is_help=True)

    @group.command("check")
    def check(ctx: typer.Context) -> None:
        """Validate the config file, its model bundle and the brand names it uses, and summarise it.

        Example: monitor --config config.yaml config check
        """
        from monitor.brands import bundle_classes, check_brands, configured_brands
        from storage.redaction import redact_url

        settings = ctx.obj.settings
        model = settings.classifier.model
        classes = bundle_classes(model)  # the manifest only: no TensorFlow
        if classes is not None:
            check_brands(configured_brands(settings), classes, f"the model at {model}")
        typer.echo(f"{settings.config_path}: OK")
        typer.echo(f"  database: {redact_url(settings.database.url)}")
        typer.echo(f"  brands: {', '.join(settings.brands.tracked) or '(none)'}")
        typer.echo(f"  sources: {', '.join(f'{s.name} ({s.kind})' for s in settings.sources) or '(none)'}")
        typer.echo(f"  campaigns: {', '.join(c.name for c in settings.campaigns) or '(none)'}")
        if classes is None:
            typer.echo(f"  model: {model} (no bundle yet: brand names unchecked; train one with `monitor train`)")
        else:
            typer.echo(f"  model: {model} ({len(classes)} brands: {', '.join(classes)}; every configured brand known)")

    app.add_typer(group, name="config")
