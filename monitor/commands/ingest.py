"""`monitor ingest`, `monitor run` and `monitor status`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ingest, run and status commands."""

    @app.command("ingest")
    def ingest(
        ctx: typer.Context,
        once: bool = typer.Option(
            False,
            "--once",
            help="One pass over the sources in this process, then exit (without it, keep polling like `monitor run`).",
        ),
        source: list[str] | None = typer.Option(None, "--source", "-s", help="Only this source (repeatable)."),
    ) -> None:
        """Poll the sources, classify new photos and store them; --once: one pass, then a summary table
        (exit code 1 when every source failed).

        Example: monitor --config config.yaml ingest --once --source inbox
        """
        if not once:
            from monitor.daemon import run_daemon

            run_daemon(_only(ctx.obj.settings, source))
            return
        import signal
        import threading

        from monitor.pipeline import ingest_once
        from monitor.summary import photo_progress, print_summary

        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        with photo_progress() as on_batch:
            summaries = ingest_once(ctx.obj.settings, source, stop=stop, on_batch=on_batch)
        print_summary(summaries)
        failed = [s for s in summaries if s.error]
        # Nothing was read: say so to scripts and cron (a stop request cutting polls short is no failure).
        if summaries and len(failed) == len(summaries) and not stop.is_set():
            from monitor.errors import SourceError

            raise SourceError(f"every source failed: {'; '.join(f'{s.name}: {s.error}' for s in failed)}")

    @app.command("run")
    def run(
        ctx: typer.Context,
        executor: str | None = typer.Option(
            None,
            "--executor",
            "-e",
            help="local: classify in this process; celery: only schedule, "
            "workers (`monitor worker`) classify (default: executor.kind in the config).",
            show_default=False,
        ),
    ) -> None:
        """Watch every enabled source on its interval until SIGTERM or Ctrl-C (the daemon).

        Example: monitor --config config.yaml run --executor celery
        """
        from monitor.daemon import run_daemon
        from monitor.errors import ConfigError

        if executor not in (None, "local", "celery"):
            raise ConfigError(f"--executor {executor!r}: choose local or celery")
        settings = ctx.obj.settings
        if executor:
            settings = settings.model_copy(update={"executor": settings.executor.model_copy(update={"kind": executor})})
        run_daemon(settings)

    @app.command("status")
    def status(ctx: typer.Context) -> None:
        """Show every source's last poll, last success, last error, failures in a row and totals
        (with the celery executor also the broker, queue depths, the outbox backlog and worker heartbeats).

        Example: monitor --config config.yaml status
        """
        from monitor.summary import print_status

        print_status(ctx.obj.settings)


def _only(settings, names: list[str] | None):
    """The settings with just the named sources (each checked to exist)."""
    if not names:
        return settings
    chosen = [settings.source(name) for name in names]
    return settings.model_copy(update={"sources": chosen})
