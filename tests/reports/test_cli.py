"""`monitor report` and `monitor campaign add|list` through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli import run_cli
from report_seed import seed, window_of


@pytest.fixture
def config(tmp_path: Path, sqlite_url: str) -> Path:
    seed(sqlite_url, lambda d: 300, lambda d: {"Acme": 12 if window_of(d) == "during" else 6, "Globex": 9}).dispose()
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": {"url": sqlite_url},
                "brands": {"own": ["Acme"], "competitors": ["Globex"]},
                "campaigns": [
                    {
                        "name": "spring",
                        "brand": "Acme",
                        "start": "2026-03-02",
                        "end": "2026-03-15",
                        "competitors": ["Globex"],
                    }
                ],
                "paths": {"reports": str(tmp_path / "reports")},
            }
        ),
        encoding="utf-8",
    )
    return path


def _run(config: Path, *args: str):
    return run_cli("--config", config, *args)


def test_campaign_add_and_list_merge_config_and_database(config: Path) -> None:
    added = _run(
        config,
        "campaign",
        "add",
        "summer",
        "--brand",
        "Acme",
        "--start",
        "2026-03-09",
        "--end",
        "2026-03-12",
        "--competitor",
        "Globex",
        "--baseline-days",
        "7",
    )
    assert added.exit_code == 0, added.output
    assert "campaign 'summer': Acme from 2026-03-09 to 2026-03-12 against Globex" in added.output
    clash = _run(
        config, "campaign", "add", "spring", "--brand", "Globex", "--start", "2026-01-01", "--end", "2026-01-02"
    )
    assert clash.exit_code == 0 and "the config's definition wins" in clash.output
    listed = _run(config, "campaign", "list")
    lines = listed.output.splitlines()
    assert any(
        line.startswith("spring\tAcme vs Globex\t2026-03-02 to 2026-03-15\t[config (overrides db)]") for line in lines
    )
    assert any(line.startswith("summer\tAcme vs Globex\t2026-03-09 to 2026-03-12\t[db]") for line in lines)
    bad = _run(config, "campaign", "add", "x", "--brand", "Acme", "--start", "2026-03-09", "--end", "2026-03-01")
    assert bad.exit_code == 1 and "end 2026-03-01 is before start 2026-03-09" in bad.stderr


def test_report_for_a_database_campaign_writes_csv_and_html(config: Path, tmp_path: Path) -> None:
    assert (
        _run(
            config,
            "campaign",
            "add",
            "short",
            "--brand",
            "Acme",
            "--start",
            "2026-03-02",
            "--end",
            "2026-03-08",
            "--competitor",
            "Globex",
        ).exit_code
        == 0
    )
    result = _run(config, "report", "--campaign", "short", "--by", "week")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Acme appeared in 2.0x as many photos per 1,000 during the campaign")
    out = tmp_path / "reports" / "short"
    assert f"wrote {out / 'report.html'}" in result.output and (out / "lift.csv").exists()


def test_period_report_with_options(config: Path, tmp_path: Path) -> None:
    result = _run(
        config,
        "report",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-15",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "march"),
        "--include-reposts",
        "--model-version",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "analysed 4,200 photos (14 days with data of 14)" in result.output
    assert (tmp_path / "march" / "summary.csv").exists() and not (tmp_path / "march" / "report.html").exists()


def test_cli_errors_are_one_line_and_tensorflow_stays_unloaded(config: Path, tmp_path: Path) -> None:
    missing = _run(config, "report", "--campaign", "nope")
    assert missing.exit_code == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        "Error: no campaign named 'nope' (known: spring); add one with `monitor campaign add`"
    )
    code = (
        "import sys\nfrom monitor.cli import app\n"
        f"app(args=['--config', {str(config)!r}, 'report', '--campaign', 'spring', '--out', {str(tmp_path / 'o')!r}],"
        " standalone_mode=False)\nprint('tensorflow loaded:', 'tensorflow' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "tensorflow loaded: False" in ran.stdout
    both = _run(config, "report")
    assert both.exit_code == 1
    assert "give either --campaign NAME or both --from DATE and --to DATE" in both.stderr
