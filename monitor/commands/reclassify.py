"""`monitor reclassify`: re-score stored photos with a new model version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the reclassify command."""

    @app.command("reclassify")
    def reclassify(
        ctx: typer.Context,
        model: Path = typer.Option(..., "--model", "-m", help="The new model bundle's folder."),
        since: datetime | None = typer.Option(
            None, "--since", formats=["%Y-%m-%d"], help="Only photos posted on or after this day.", show_default=False
        ),
        executor: str | None = typer.Option(
            None, "--executor", "-e", help="local or celery (default: the config's).", show_default=False
        ),
    ) -> None:
        """Re-score stored accepted photos with another model version (reports pick it with --model-version).

        Photos are read again by their uri; ones whose bytes changed or cannot be read are skipped and counted,
        and so are ones that killed the process ingest.max_photo_attempts times (each rerun is not killed again).
        Example: monitor --config config.yaml reclassify --model models/v2 --since 2026-01-01
        """

        from monitor.errors import ConfigError
        from monitor.summary import print_reclassify, reclassify_progress

        settings = ctx.obj.settings
        kind = executor or settings.executor.kind
        if kind not in ("local", "celery"):
            raise ConfigError(f"--executor {kind!r}: choose local or celery")
        start = since.replace(tzinfo=UTC) if since else None
        with reclassify_progress() as on_progress:
            if kind == "celery":
                from monitor.distributed.reclassify import reclassify_on_workers

                summary = reclassify_on_workers(settings, model, start, on_progress=on_progress)
            else:
                from monitor.reclassify import reclassify as run_local

                summary = run_local(settings, model, start, on_progress=on_progress)
        print_reclassify(summary)
