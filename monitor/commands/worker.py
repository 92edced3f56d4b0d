"""`monitor worker`: run a Celery worker for the celery executor."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the worker command."""

    @app.command("worker")
    def worker(
        ctx: typer.Context,
        concurrency: int = typer.Option(
            1, "--concurrency", "-n", help="Worker processes (prefork); each loads the model once."
        ),
        queues: str = typer.Option(
            "fetch,classify", "--queues", "-Q", help="Which steps to take: fetch (I/O), classify (CPU/GPU), or both."
        ),
        name: str | None = typer.Option(
            None,
            "--name",
            help="Worker name as shown by `monitor status` (default: monitor<pid>@<host>).",
            show_default=False,
        ),
    ) -> None:
        """Fetch and classify the batches the scheduler (`monitor run --executor celery`) sends, until SIGTERM.

        Example: monitor --config config.yaml worker --concurrency 2 --queues classify
        """
        import sys

        from monitor.distributed.worker import run_worker

        roles = [q.strip() for q in queues.split(",") if q.strip()]
        code = run_worker(ctx.obj.settings, concurrency, roles, name, loglevel="DEBUG" if ctx.obj.verbose else "INFO")
        if code:
            sys.exit(code)
