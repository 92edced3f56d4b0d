"""`monitor ingest`, `monitor run` and `monitor status`."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the ingest, run and status commands."""

    @app.command("ingest")
    def ingest(ctx: typer.Context,
               once: bool = typer.Option(True, "--once", help="One pass over the sources, then exit "
                                         "(always so; `monitor run` keeps polling)."),
               source: Optional[list[str]] = typer.Option(None, "--source", "-s",
                                                          help="Only this source (repeatable).")) -> None:
        """Poll the sources once, classify new photos, store them and print a summary.

        Example: monitor --config config.yaml ingest --once --source inbox
        """
        import signal
        import threading

        from monitor.pipeline import ingest_once
        from monitor.summary import print_summary

        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        summaries = ingest_once(ctx.obj.settings, source, stop=stop)
        print_summary(summaries)

    @app.command("run")
    def run(ctx: typer.Context) -> None:
        """Watch every enabled source on its interval until SIGTERM or Ctrl-C (the daemon).

        Example: monitor --config config.yaml run
        """
        from monitor.daemon import run_daemon

        run_daemon(ctx.obj.settings)

    @app.command("status")
    def status(ctx: typer.Context) -> None:
        """Show every source's last poll, last success, last error, failures in a row and totals.

        Example: monitor --config config.yaml status
        """
        from monitor.summary import print_status

        print_status(ctx.obj.settings)
