"""The `monitor` command: the installed script's version, config check, db upgrade, a light --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from cli import run_cli
from monitor import __version__
from storage import migrate
from storage.engine import make_engine
from storage.redaction import redact_url as redact

SCRIPT = Path(sys.executable).with_name("monitor")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "monitor"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return run_cli(*args, cwd=cwd, env=env)


def test_version(tmp_path: Path) -> None:
    done = subprocess.run([*COMMAND, "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, f"monitor {__version__}\n")


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(
        "brands: {own: [acme], competitors: [globex]}\nsources:\n  - {name: inbox, kind: folder, path: inbox}\n",
        encoding="utf-8",
    )
    (tmp_path / "inbox").mkdir()  # config check also checks that folders exist (issue 15)
    done = run("--config", str(config), "config", "check", cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{config}: OK"
    assert f"  database: sqlite:///{tmp_path / 'monitor.db'}" in lines
    assert "  brands: acme, globex" in lines and "  sources: inbox (folder)" in lines


def test_config_check_reads_monitor_config(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text("brands: {own: [acme]}\n", encoding="utf-8")
    done = run("config", "check", cwd=tmp_path, env={"MONITOR_CONFIG": str(config)})
    assert done.exit_code == 0 and done.stdout.startswith(f"{config}: OK\n")


def test_config_check_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("databse:\n  url: sqlite:///x.db\n", encoding="utf-8")
    done = run("config", "check", cwd=tmp_path)
    assert done.exit_code == 1
    assert done.stdout == ""
    from monitor.config import Settings

    valid = ", ".join(sorted(set(Settings.model_fields) - {"config_path"}))
    assert done.stderr == (
        f"Error: config.yaml: databse: unknown key; did you mean 'database'? (valid keys: {valid})\n"
    )


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    done = run("config", "check", cwd=tmp_path)
    assert (done.exit_code, done.stderr) == (
        1,
        "Error: config.yaml: config file not found (give --config PATH or set MONITOR_CONFIG)\n",
    )


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
    assert (first.exit_code, first.stdout) == (
        0,
        f"{url}: upgraded from revision none (empty) to {migrate.head()}\n",
    ), first.stderr
    assert "Traceback" not in first.stderr
    assert {"images", "detections", "sources"} <= _tables(url)
    again = run("db", "upgrade", cwd=tmp_path)
    assert (again.exit_code, again.stdout) == (0, f"{url}: already at revision {migrate.head()}, nothing to do\n")


def test_db_upgrade_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    first = run("db", "upgrade", "--url", pg_url, cwd=tmp_path)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == f"{redact(pg_url)}: upgraded from revision none (empty) to {migrate.head()}\n"
    assert migrate.current(pg_url) == migrate.head()
    again = run("db", "upgrade", "--url", pg_url, cwd=tmp_path)
    assert again.stdout == f"{redact(pg_url)}: already at revision {migrate.head()}, nothing to do\n"


def test_db_upgrade_of_an_unreachable_server_is_one_error_line(tmp_path: Path) -> None:
    done = run("db", "upgrade", "--url", "postgresql://postgres@127.0.0.1:1/nothing", cwd=tmp_path)
    assert done.exit_code == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "Error: database postgresql://postgres@127.0.0.1:1/nothing is unreachable: "
    ), done.stderr


def test_help_does_not_import_tensorflow(tmp_path: Path) -> None:
    probe = (
        "import sys\nsys.argv = ['monitor', '--help']\nfrom monitor.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('tensorflow', 'keras', 'albumentations') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "HEAVY []" in done.stdout


def _bundle(folder: Path, classes: list[str]) -> Path:
    """A model bundle's manifest (all `config check` reads of a bundle: no weights, no TensorFlow)."""
    import json

    folder.mkdir(parents=True)
    (folder / "bundle.json").write_text(
        json.dumps(
            {
                "format": 1,
                "classes": classes,
                "thresholds": {c: 0.5 for c in classes},
                "backbone": "mobilenet_v2",
                "input_size": 96,
                "weights_file": "model.weights.h5",
                "weights_sha256": "0" * 64,
            }
        ),
        encoding="utf-8",
    )
    return folder


def test_config_check_prints_the_database_url_redacted(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "database: {url: 'postgresql://bob:s3cret@db.example:5432/monitor?sslmode=require&password=p2'}\n",
        encoding="utf-8",
    )
    done = run("config", "check", cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert "  database: postgresql://bob:***@db.example:5432/monitor?sslmode=require&password=***" in done.stdout
    assert "s3cret" not in done.output and "p2" not in done.output


def test_config_check_checks_brands_against_the_model_bundle(tmp_path: Path) -> None:
    _bundle(tmp_path / "models" / "current", ["Acme Cola", "Globex", "Zorb Energy"])
    config = tmp_path / "config.yaml"
    config.write_text(
        "classifier: {model: models/current}\nbrands: {own: [Acme Cola], competitors: [Globex]}\n"
        "campaigns:\n  - {name: spring, brand: Acme Cola, start: 2026-03-02, end: 2026-03-15,"
        " competitors: [Zorb Enrgy]}\n",
        encoding="utf-8",
    )
    done = run("config", "check", cwd=tmp_path)
    assert (done.exit_code, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: campaigns[0].competitors[0]: 'Zorb Enrgy' is not a brand the model at "
        f"{tmp_path / 'models' / 'current'} knows; did you mean 'Zorb Energy'? "
        "(it knows: Acme Cola, Globex, Zorb Energy)\n"
    )
    config.write_text(config.read_text(encoding="utf-8").replace("Zorb Enrgy", "Zorb Energy"), encoding="utf-8")
    done = run("config", "check", cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert (
        f"  model: {tmp_path / 'models' / 'current'} (3 brands: Acme Cola, Globex, Zorb Energy; "
        "every configured brand known)"
    ) in done.stdout.splitlines()


def test_config_check_reports_an_unreadable_bundle_in_one_line(tmp_path: Path) -> None:
    (_bundle(tmp_path / "m", ["Acme"]) / "bundle.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "config.yaml").write_text("classifier: {model: m}\n", encoding="utf-8")
    done = run("config", "check", cwd=tmp_path)
    assert done.exit_code == 1 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"Error: model bundle {tmp_path / 'm'}: bundle.json is unreadable: ")


def test_config_check_refuses_a_billion_laughs_file(tmp_path: Path) -> None:
    levels = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 8))
    (tmp_path / "config.yaml").write_text(
        "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + levels, encoding="utf-8"
    )
    done = run("config", "check", cwd=tmp_path)
    assert done.exit_code == 1
    assert done.stderr == (
        "Error: config.yaml: the YAML expands to over 100000 values through its aliases "
        '(a "billion laughs" file?); write the values out instead\n'
    )


def test_campaign_add_checks_brands_and_years_and_remove_deletes(tmp_path: Path) -> None:
    _bundle(tmp_path / "models" / "current", ["Acme", "Globex"])
    (tmp_path / "config.yaml").write_text("classifier: {model: models/current}\n", encoding="utf-8")
    assert run("db", "upgrade", cwd=tmp_path).exit_code == 0
    add = ("campaign", "add", "spring", "--start", "2026-03-02", "--end", "2026-03-15")
    done = run(*add, "--brand", "acme", "--competitor", "Globex", cwd=tmp_path)
    assert (done.exit_code, done.stderr) == (
        1,
        "Error: campaign 'spring' brand: 'acme' is not a brand the model knows; did you mean 'Acme'? "
        "(it knows: Acme, Globex)\n",
    )
    done = run(*add, "--brand", "Acme", "--competitor", "Globx", cwd=tmp_path)
    assert done.exit_code == 1 and "'Globx' is not a brand the model knows; did you mean 'Globex'?" in done.stderr
    done = run("campaign", "add", "y", "--brand", "Acme", "--start", "2026-03-02", "--end", "9999-03-15", cwd=tmp_path)
    assert (done.exit_code, done.stderr) == (
        1,
        "Error: campaign 'y': end 9999-03-15 is outside the years 1970 to 2200\n",
    )
    assert run(*add, "--brand", "Acme", "--competitor", "Globex", cwd=tmp_path).exit_code == 0
    listed = run("campaign", "list", cwd=tmp_path).stdout
    assert listed.startswith("spring\tAcme vs Globex\t")
    done = run("campaign", "remove", "spring", cwd=tmp_path)
    assert (done.exit_code, done.stdout) == (0, "campaign 'spring' removed\n")
    assert run("campaign", "list", cwd=tmp_path).stdout.startswith("no campaigns")
    done = run("campaign", "remove", "spring", cwd=tmp_path)
    assert (done.exit_code, done.stderr) == (
        1,
        "Error: no campaign named 'spring' in the database (stored: none stored)\n",
    )
    assert "Example: monitor campaign remove" in run("campaign", "remove", "--help", cwd=tmp_path).stdout


def test_report_refuses_a_campaign_brand_the_model_does_not_know(tmp_path: Path) -> None:
    _bundle(tmp_path / "models" / "current", ["Acme", "Globex"])
    (tmp_path / "config.yaml").write_text(
        "classifier: {model: models/current}\n"
        "campaigns:\n  - {name: spring, brand: Acme, start: 2026-03-02, end: 2026-03-15, competitors: [Globx]}\n",
        encoding="utf-8",
    )
    assert run("db", "upgrade", cwd=tmp_path).exit_code == 0
    done = run("report", "--campaign", "spring", cwd=tmp_path)
    assert (done.exit_code, done.stderr) == (
        1,
        "Error: campaign 'spring' competitor: 'Globx' is not a brand the model knows; did you mean 'Globex'? "
        "(it knows: Acme, Globex)\n",
    )


def test_config_check_says_when_the_model_path_holds_no_bundle(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "notes.txt").write_text("not a model", encoding="utf-8")
    (tmp_path / "config.yaml").write_text("classifier: {model: m}\n", encoding="utf-8")
    done = run("config", "check", cwd=tmp_path)
    assert (done.exit_code, done.stderr) == (
        1,
        f"Error: model bundle {tmp_path / 'm'}: bundle.json is missing; this is not a model bundle\n",
    )
    (tmp_path / "m" / "notes.txt").unlink()
    done = run("config", "check", cwd=tmp_path)
    assert done.exit_code == 0
    assert f"  model: {tmp_path / 'm'} (no bundle yet: brand names unchecked; train one with `monitor train`)" in (
        done.stdout.splitlines()
    )


def test_status_never_shows_a_source_key_or_the_broker_password(tmp_path: Path) -> None:
    from storage import batches, sources
    from storage.engine import open_database

    (tmp_path / "config.yaml").write_text("database: {url: 'sqlite:///m.db'}\n", encoding="utf-8")
    assert run("db", "upgrade", cwd=tmp_path).exit_code == 0
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        source = sources.ensure_source(db, "api", "json_api")
        sources.record_poll(db, source, False, "HTTP 401 from https://api.example.com/v2/media?access_token=T0K3N")
        batches.record_broker(db, "amqp://monitor:Br0kerPw@rabbit:5672//", False, "connection refused")
    finally:
        db.dispose()
    done = run("status", cwd=tmp_path)
    assert done.exit_code == 0, done.output
    assert "access_token=***" in done.stdout
    assert "T0K3N" not in done.output and "Br0kerPw" not in done.output
