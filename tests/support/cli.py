"""The one way tests run the `monitor` command: in this process, through `monitor.cli.main`, output captured.

A subprocess (ingest_helpers.monitor_cmd) is only for what needs a separate process: signals, concurrency,
workers, what a fresh interpreter imports.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from click.testing import CliRunner, Result

# Rich tables on one line each; the caller's MONITOR_CONFIG must not leak in.
ENV: dict[str, str | None] = {"COLUMNS": "200", "MONITOR_CONFIG": None, "TF_CPP_MIN_LOG_LEVEL": "3"}


class _Main:
    """What CliRunner.invoke calls: monitor.cli.main, so errors become the one line a user sees."""

    name = "monitor"

    def main(self, args: list[str], prog_name: str, **_: object) -> None:
        from monitor.cli import main

        main(list(args))


def run_cli(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str | None] | None = None, check: bool = False
) -> Result:
    """`monitor ARGS` in `cwd`: .exit_code, .stdout, .stderr, .output; with check, fail unless it exits 0."""
    with contextlib.chdir(cwd or os.getcwd()):
        result = CliRunner().invoke(
            _Main(),
            [str(a) for a in args],
            env={**ENV, **(env or {})},  # type: ignore[arg-type]
            catch_exceptions=True,
        )
    if check and result.exit_code != 0:
        raise AssertionError(
            f"monitor {' '.join(map(str, args))} exited {result.exit_code}:\n"
            f"{result.output[-3000:]}\n{result.exception!r}"
        )
    return result
