"""The `monitor` command line: thin commands that parse options and call one library function."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from pathlib import Path

import typer

from monitor import __version__

app = typer.Typer(
    help="Brand exposure monitor: count brand logos in shared photos and report campaign exposure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class State:
    """Global options, handed to every command through the typer context."""

    def __init__(self, config: Path | None, verbose: bool):
        self.config = config
        self.verbose = verbose
        self._settings = None

    @property
    def settings(self):
        """The validated settings, loaded on first use."""
        if self._settings is None:
            from monitor.config import load_settings

            self._settings = load_settings(self.config)
        return self._settings


def _version(value: bool) -> None:
    if value:
        typer.echo(f"monitor {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Config file (default: $MONITOR_CONFIG or ./config.yaml).",
        envvar=None,
        show_default=False,
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every poll and photo."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Brand exposure monitor."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("PIL", "urllib3", "apscheduler.executors.default", "matplotlib", "h5py", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = State(config, verbose)


def _register_commands() -> None:
    import monitor.commands as package

    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"monitor.commands.{module.name}").register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; our own errors become one line on stderr and exit code 1."""
    from monitor.errors import user_error_types

    try:
        app(args=argv, standalone_mode=True)
    except user_error_types() as exc:
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
