"""`monitor db ...` commands."""

from __future__ import annotations

import typer

from storage.redaction import redact_url


def register(app: typer.Typer) -> None:
    """Add the `db` group."""
    group = typer.Typer(help="Create or migrate the database.", no_args_is_help=True)

    @group.command("upgrade")
    def upgrade(
        ctx: typer.Context, url: str | None = typer.Option(None, help="Database URL (default: from the config).")
    ) -> None:
        """Bring the database to the newest schema (creates it when empty).

        Example: monitor db upgrade
        """
        from storage.migrate import current
        from storage.migrate import upgrade as run_upgrade

        target = url or ctx.obj.settings.database.url
        before = current(target)
        revision = run_upgrade(target)
        if before == revision:
            typer.echo(f"{redact_url(target)}: already at revision {revision}, nothing to do")
        else:
            typer.echo(f"{redact_url(target)}: upgraded from revision {before or 'none (empty)'} to {revision}")

    @group.command("rebuild-rollups")
    def rebuild_rollups(
        ctx: typer.Context,
        url: str | None = typer.Option(None, help="Database URL (default: from the config)."),
        check: bool = typer.Option(False, "--check", help="Only count rollup rows that differ from the raw rows."),
    ) -> None:
        """Recompute the rollup tables reports read from the raw detections and images (one transaction).

        Example: monitor db rebuild-rollups --check
        """
        from storage.engine import open_database
        from storage.rollups import rebuild_rollups as rebuild
        from storage.rollups import rollup_drift

        target = url or ctx.obj.settings.database.url
        db = open_database(target)
        try:
            with db.session(write=True) as session:
                counts = (rollup_drift if check else rebuild)(session.connection())
        finally:
            db.dispose()
        what = "rollup rows differing from the raw tables" if check else "rollup rows written"
        typer.echo(f"{redact_url(target)}: {what}: " + ", ".join(f"{table} {n}" for table, n in counts.items()))
        if check and any(counts.values()):
            raise typer.Exit(1)

    app.add_typer(group, name="db")
