"""`monitor demo`: the whole product, offline, on a generated world of fictional brands."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the `demo` command."""

    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for the world, database and report."),
        seed: int = typer.Option(0, "--seed", help="Seed of the generated world (same seed, same photos)."),
        scale: str = typer.Option("full", "--scale", help="small (about a minute) or full (a few minutes)."),
    ) -> None:
        """Draw four fictional brands into thousands of photos, train a model, ingest a 12-week feed, report.

        Needs no internet and no data of your own. Afterwards open the HTML report it names, or
        point other commands at the config it wrote.

        Example: monitor demo --out demo-output --seed 0 --scale full
        """
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides the progress
        from monitor.demo.run import run_demo

        run_demo(out, seed=seed, scale=scale)
