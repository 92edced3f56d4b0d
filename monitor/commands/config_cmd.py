"""`monitor config ...` commands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `config` group."""
    group = typer.Typer(help="Check the configuration file.", no_args_is_help=True)

    @group.command("check")
    def check(
        ctx: typer.Context,
        online: bool = typer.Option(
            False, "--online", help="Also ask every feed and API for its pages (no photo is fetched)."
        ),
        load_model: bool = typer.Option(
            False,
            "--load-model",
            help="Also load the model bundle's weights (TensorFlow: seconds; without it only its manifest is read).",
        ),
    ) -> None:
        """Validate the config file, its model bundle and the brand names it uses, check that folders exist
        (with --online that feeds answer, with --load-model that the bundle loads), and summarise it; exit
        code 1 names what failed.

        Example: monitor --config config.yaml config check --online --load-model
        """
        from monitor import config_checks
        from monitor.brands import bundle_classes, check_brands, configured_brands
        from monitor.errors import ConfigError
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
        checks = config_checks.folder_checks(settings)
        checks += config_checks.bundle_check(settings) if load_model and classes is not None else []
        checks += config_checks.feed_checks(settings) if online else []
        for item in checks:
            typer.echo(f"  {item.what}: {'OK' if item.ok else 'FAILED'}: {item.detail}")
        failed = [item for item in checks if not item.ok]
        if failed:
            raise ConfigError("; ".join(f"{item.what}: {item.detail}" for item in failed))

    app.add_typer(group, name="config")
