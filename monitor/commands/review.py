"""`monitor review`: judge a stratified sample of the feed in the browser; `review import` / `review export`."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer


def _who(value: str | None) -> str:
    if value:
        return value
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "analyst"


def register(app: typer.Typer) -> None:
    """Add the `review` group."""
    group = typer.Typer(
        help="Audit a random sample of the feed; import and export judgments.", invoke_without_command=True
    )

    @group.callback()
    def review(
        ctx: typer.Context,
        port: int = typer.Option(8765, "--port", help="Port on 127.0.0.1 (0: any free port)."),
        model_version: int | None = typer.Option(
            None, "--model-version", help="Model version id (default: the newest)."
        ),
        uncertain: bool = typer.Option(
            False, "--uncertain", help="Least certain photos first (training only, not rates)."
        ),
        host: str | None = typer.Option(None, "--host", help="Listen on this interface instead (needs --token)."),
        token: str | None = typer.Option(
            None, "--token", envvar="MONITOR_REVIEW_TOKEN", help="Secret the page must be opened with (?token=...)."
        ),
        precision: float = typer.Option(
            0.1,
            "--precision",
            help="Wanted 95% half-width of every brand's corrected counts, relative (0.1: +/-10%); sizes the sample.",
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the random sample."),
        who: str | None = typer.Option(None, "--who", help="Name stored with each judgment."),
    ) -> None:
        """Open the review page: tick the brands each photo really shows (detections come pre-ticked).

        Example: monitor review --port 8765
        Example: monitor review --uncertain --model-version 3
        """
        if ctx.invoked_subcommand is not None:
            return
        import time

        from monitor.review.server import start_server
        from monitor.review.session import ReviewSession
        from monitor.sources.readers import Readers
        from storage.engine import open_database

        db = open_database(ctx.obj.settings.database.url)
        readers = Readers(ctx.obj.settings)  # full photos are read the way their source reads them
        try:
            session = ReviewSession(
                db,
                model_version,
                "uncertain" if uncertain else "sample",
                seed=seed,
                precision=precision,
                judged_by=_who(who),
                readers=readers,
            )
            server = start_server(session, host, port, token)
            plan = session.plan()
            typer.echo(
                f"reviewing model version {session.version_id} ({session.mode} mode): {len(session.queue)} "
                f"photos queued; about {plan.more_total} more judgments needed for corrected counts "
                f"within +/-{precision:.0%}"
            )
            typer.echo(f"open {server.url}" + ("?token=..." if token else "") + "  (Ctrl-C to stop)")
            try:
                while True:
                    time.sleep(3600)
            finally:
                server.shutdown()
        finally:
            readers.close()
            db.dispose()

    @group.command("import")
    def import_cmd(
        ctx: typer.Context,
        file: Path = typer.Argument(..., help="CSV with sha256,brand,present."),
        model_version: int | None = typer.Option(
            None, "--model-version", help="Model version id (default: the newest)."
        ),
        not_random: bool = typer.Option(
            False, "--not-random", help="Photos not from the random sample: training only."
        ),
        who: str | None = typer.Option(None, "--who", help="Name stored with each judgment."),
    ) -> None:
        """Store judgments from a CSV file (present: 1/0 or true/false); bad lines are reported and skipped.

        Example: monitor review import corrections.csv
        """
        from monitor.review.transfer import import_judgments
        from storage.engine import open_database

        db = open_database(ctx.obj.settings.database.url)
        try:
            result = import_judgments(
                db,
                file,
                model_version,
                "uncertain" if not_random else "sample",
                judged_by=f"{_who(who)} (import {file.name})"[:200],
            )
        finally:
            db.dispose()
        for line, reason in result.skipped:
            typer.echo(f"{file}:{line}: skipped: {reason}", err=True)
        typer.echo(f"stored {result.stored} judgment(s), skipped {len(result.skipped)} line(s)")

    @group.command("export")
    def export_cmd(
        ctx: typer.Context,
        out: Path = typer.Option(..., "--out", help="Folder to write into."),
        model_version: int | None = typer.Option(None, "--model-version", help="Only this model version's judgments."),
    ) -> None:
        """Write judged photos as training folders: <Brand>/ for each brand shown, none/ for logo-free ones.

        Example: monitor review export --out corrections/
        """
        from monitor.review.transfer import export_judgments
        from monitor.sources.readers import Readers
        from storage.engine import open_database

        db = open_database(ctx.obj.settings.database.url)
        readers = Readers(ctx.obj.settings)
        try:
            result = export_judgments(db, out, model_version, readers)
        finally:
            readers.close()
            db.dispose()
        folders = ", ".join(f"{name} {n}" for name, n in sorted(result.written.items())) or "nothing"
        typer.echo(
            f"wrote {folders} into {out}"
            + (f" ({result.from_thumbnail} from thumbnails: the photo file is gone)" if result.from_thumbnail else "")
        )
        if result.unreadable:
            typer.echo(f"note: {len(result.unreadable)} judged photo(s) left out: no file and no thumbnail")

    app.add_typer(group, name="review")
