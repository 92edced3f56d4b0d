"""The real `monitor` command in a subprocess: version, config check, db upgrade, a light --help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from monitor import __version__
from storage import migrate
from storage.engine import make_engine
from storage.redaction import redact_url as redact

SCRIPT = Path(sys.executable).with_name("monitor")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "monitor"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    environ.update(env or {})
    return subprocess.run([*COMMAND, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120)


def test_version(tmp_path: Path) -> None:
    done = run("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"monitor {__version__}\n")


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("brands: {own: [acme], competitors: [globex]}\n"
                      "sources:\n  - {name: inbox, kind: folder, path: inbox}\n", encoding="utf-8")
    done = run("--config", str(config), "config", "check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{config}: OK"
    assert f"  database: sqlite:///{tmp_path / 'monitor.db'}" in lines
    assert "  brands: acme, globex" in lines and "  sources: inbox (folder)" in lines


def test_config_check_reads_monitor_config(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text("brands: {own: [acme]}\n", encoding="utf-8")
    done = run("config", "check", cwd=tmp_path, env={"MONITOR_CONFIG": str(config)})
    assert done.returncode == 0 and done.stdout.startswith(f"{config}: OK\n")


def test_config_check_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("databse:\n  url: sqlite:///x.db\n", encoding="utf-8")
    done = run("config", "check", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == ("Error: config.yaml: databse: unknown key; did you mean 'database'? "
                           "(valid keys: brands, campaigns, classifier, database, executor, ingest, paths, sources)\n")


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    done = run("config", "check", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        1, "Error: config.yaml: config file not found (give --config PATH or set MONITOR_CONFIG)\n")


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_db_upgrade_creates_a_fresh_sqlite_file_then_does_nothing(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("database: {url: 'sqlite:///var/monitor.db'}\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'var' / 'monitor.db'}"
    first = run("db", "upgrade", cwd=tmp_path)
    assert (first.returncode, first.stdout) == (
        0, f"{url}: upgraded from revision none (empty) to {migrate.head()}\n"), first.stderr
    assert "Traceback" not in first.stderr
    assert {"images", "detections", "sources"} <= _tables(url)
    again = run("db", "upgrade", cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, f"{url}: already at revision {migrate.head()}, nothing to do\n")


def test_db_upgrade_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    first = run("db", "upgrade", "--url", pg_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"{redact(pg_url)}: upgraded from revision none (empty) to {migrate.head()}\n"
    assert migrate.current(pg_url) == migrate.head()
    again = run("db", "upgrade", "--url", pg_url, cwd=tmp_path)
    assert again.stdout == f"{redact(pg_url)}: already at revision {migrate.head()}, nothing to do\n"


def test_db_upgrade_of_an_unreachable_server_is_one_error_line(tmp_path: Path) -> None:
    done = run("db", "upgrade", "--url", "postgresql://postgres@127.0.0.1:1/nothing", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: database postgresql://postgres@127.0.0.1:1/nothing is unreachable: "), done.stderr


def test_help_does_not_import_tensorflow(tmp_path: Path) -> None:
    probe = ("import sys\nsys.argv = ['monitor', '--help']\nfrom monitor.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('HEAVY', sorted(m for m in ('tensorflow', 'keras', 'albumentations') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "HEAVY []" in done.stdout
