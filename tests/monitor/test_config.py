"""The config file: a good one loads; each bad one gives its exact one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import Settings, SourceSettings, config_path, load_settings, parse_duration
from monitor.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"

GOOD = """\
database:
  url: sqlite:///data/monitor.db   # relative: next to this file
brands:
  own: [acme]
  competitors: [globex, initech]
campaigns:
  - name: spring-launch
    brand: acme
    start: 2026-03-01
    end: 2026-03-31
    baseline_days: 28
    competitors: [globex]
sources:
  - name: inbox
    kind: folder
    interval: 5m
    path: inbox
classifier:
  model: models/current
  thresholds: {acme: 0.7}
  tiling: {enabled: true, grid: 2}
ingest:
  phash_distance: 8
paths:
  inbox: inbox
  reports: out/reports
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_paths_resolved_against_its_folder(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.chdir("/")  # resolution must not depend on the working folder
    settings = load_settings(path, environ={})
    assert settings.config_path == path.resolve()
    assert settings.database.url == f"sqlite:///{tmp_path.resolve() / 'data' / 'monitor.db'}"
    assert settings.paths.inbox == tmp_path.resolve() / "inbox"
    assert settings.paths.reports == tmp_path.resolve() / "out" / "reports"
    assert settings.classifier.model == tmp_path.resolve() / "models" / "current"
    assert settings.brands.tracked == ["acme", "globex", "initech"]
    [campaign] = settings.campaigns
    assert (str(campaign.start), str(campaign.end), campaign.length_days, campaign.baseline_days) == (
        "2026-03-01",
        "2026-03-31",
        31,
        28,
    )
    [source] = settings.sources
    assert (source.name, source.kind, source.interval, source.options) == ("inbox", "folder", 300.0, {"path": "inbox"})
    assert settings.classifier.thresholds == {"acme": 0.7}
    assert settings.ingest.phash_distance == 8


def test_defaults_put_the_database_next_to_the_config(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "brands: {own: [acme]}\n"), environ={})
    assert settings.database.url == f"sqlite:///{tmp_path.resolve() / 'monitor.db'}"
    assert settings.paths.cache == tmp_path.resolve() / ".cache"
    tiling = settings.classifier.tiling  # small logos on by default: train on windows, score as trained
    assert (tiling.enabled, tiling.mode, tiling.scale) == ("auto", "feature_windows", 1.5)


def test_tiling_enabled_reads_auto_and_the_usual_booleans(tmp_path: Path) -> None:
    for text, enabled in (("auto", "auto"), ("true", True), ("no", False), ("'off'", False), ("${T}", True)):
        yaml = f"classifier:\n  tiling:\n    enabled: {text}\n"
        assert load_settings(write(tmp_path, yaml), environ={"T": "1"}).classifier.tiling.enabled == enabled


def test_absolute_paths_and_server_urls_are_kept(tmp_path: Path) -> None:
    text = "database: {url: 'postgresql://u@db.example/monitor'}\npaths: {inbox: /srv/inbox}\n"
    settings = load_settings(write(tmp_path, text), environ={})
    assert settings.database.url == "postgresql://u@db.example/monitor"
    assert settings.paths.inbox == Path("/srv/inbox")


def test_env_references_are_expanded(tmp_path: Path) -> None:
    text = "database:\n  url: postgresql://monitor:${DB_PASSWORD}@db.example/monitor\n"
    settings = load_settings(write(tmp_path, text), environ={"DB_PASSWORD": "s3cret"})
    assert settings.database.url == "postgresql://monitor:s3cret@db.example/monitor"


def test_monitor_config_variable_and_explicit_path_select_the_file(tmp_path: Path, monkeypatch) -> None:
    chosen = write(tmp_path, GOOD, "chosen.yaml")
    assert config_path(None, {"MONITOR_CONFIG": str(chosen)}) == chosen
    assert config_path(Path("other.yaml"), {"MONITOR_CONFIG": str(chosen)}) == Path("other.yaml")
    assert config_path(None, {}) == Path("config.yaml")
    monkeypatch.setenv("MONITOR_CONFIG", str(chosen))
    assert load_settings().config_path == chosen.resolve()
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "missing.yaml")
    assert str(caught.value) == (
        f"{tmp_path / 'missing.yaml'}: config file not found (give --config PATH or set MONITOR_CONFIG)"
    )


@pytest.mark.skipif(not REPO_CONFIG.exists(), reason="the repository's config.yaml is not written yet")
def test_repository_example_config_is_valid() -> None:
    settings = load_settings(REPO_CONFIG, environ={})
    assert settings.config_path == REPO_CONFIG
    assert settings.database.url.startswith("sqlite:///")


BAD = {
    "unknown_top_level_key": (
        "databse:\n  url: sqlite:///x.db\n",
        "databse: unknown key; did you mean 'database'? (valid keys: {top_keys})",
    ),
    "unknown_nested_key": (
        "database:\n  urll: sqlite:///x.db\n",
        "database.urll: unknown key; did you mean 'url'? (valid keys: echo, url)",
    ),
    "bad_date": (
        "campaigns:\n  - {name: spring, brand: acme, start: 2026-02-30, end: 2026-03-31}\n",
        "campaigns[0].start: Input should be a valid date or datetime, day value is outside expected range "
        "(got '2026-02-30')",
    ),
    "end_before_start": (
        "campaigns:\n  - {name: spring, brand: acme, start: 2026-03-10, end: 2026-03-01}\n",
        "campaigns[0]: campaign 'spring': end 2026-03-01 is before start 2026-03-10",
    ),
    "campaign_year_out_of_range": (
        "campaigns:\n  - {name: spring, brand: acme, start: 2026-03-10, end: 9999-03-01}\n",
        "campaigns[0]: campaign 'spring': end 9999-03-01 is outside the years 1970 to 2200",
    ),
    "campaign_baseline_not_positive": (
        "campaigns:\n  - {name: spring, brand: acme, start: 2026-03-10, end: 2026-03-20, baseline_days: 0}\n",
        "campaigns[0]: campaign 'spring': baseline_days must be a positive number of days up to 36500 (got 0)",
    ),
    "absurd_interval_number": (
        "sources:\n  - {name: inbox, kind: folder, path: inbox, interval: 1.0e+20}\n",
        "sources[0].interval: is longer than 366 days; use seconds or e.g. 30s, 5m, 2h, 1d (got 1e+20)",
    ),
    "absurd_interval_days": (
        "sources:\n  - {name: inbox, kind: folder, path: inbox, interval: 99999999999d}\n",
        "sources[0].interval: is longer than 366 days; use seconds or e.g. 30s, 5m, 2h, 1d (got '99999999999d')",
    ),
    "exponential_aliases": (
        "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 8)),
        'the YAML expands to over 100000 values through its aliases (a "billion laughs" file?); '
        "write the values out instead",
    ),
    "recursive_alias": (
        "brands: &b {own: [acme], competitors: *b}\n",
        "the YAML refers to itself through an alias (a recursive anchor)",
    ),
    "interval_in_words": (
        "sources:\n  - {name: inbox, kind: folder, path: inbox, interval: 5 minutes}\n",
        "sources[0].interval: not a duration; use seconds or e.g. 30s, 5m, 2h, 1d (got '5 minutes')",
    ),
    "zero_interval": (
        "sources:\n  - {name: inbox, kind: folder, path: inbox, interval: 0s}\n",
        "sources[0].interval: must be longer than zero (got '0s')",
    ),
    "missing_env_var": (
        "sources:\n  - name: inbox\n    kind: folder\n    path: ${INBOX_DIR}/photos\n",
        "sources[0].path: environment variable INBOX_DIR is not set (referenced as ${INBOX_DIR})",
    ),
    "invalid_yaml": (
        "brands:\n  own: [acme, globex\ncampaigns: []\n",
        "invalid YAML at line 3, column 10: expected ',' or ']', but got ':'",
    ),
    "top_level_list": ("- database\n- brands\n", "the top level must be a mapping of keys, not list"),
    "duplicate_source_names": (
        "sources:\n  - {name: inbox, kind: folder, path: a}\n  - {name: inbox, kind: folder, path: b}\n",
        "sources: name 'inbox' is used twice; names must be unique",
    ),
    "unknown_source_kind": (
        "sources:\n  - {name: inbox, kind: foldr, path: inbox}\n",
        "sources[0].kind: unknown source kind 'foldr'; did you mean 'folder'? (valid kinds: {kinds})",
    ),
    "threshold_out_of_range": (
        "classifier:\n  thresholds: {acme: 1.5}\n",
        "classifier.thresholds: threshold for 'acme' is 1.5; it must be between 0 and 1",
    ),
    "wrong_type": (
        "ingest:\n  batch_size: lots\n",
        "ingest.batch_size: Input should be a valid integer, unable to parse string as an integer (got 'lots')",
    ),
    "missing_campaign_field": (
        "campaigns:\n  - {name: spring, start: 2026-03-01, end: 2026-03-31}\n",
        "campaigns[0].brand: required key is missing",
    ),
    "out_of_range_number": (
        "classifier:\n  tiling: {grid: 9}\n",
        "classifier.tiling.grid: Input should be less than or equal to 4 (got 9)",
    ),
    "tiling_neither_auto_nor_bool": (
        "classifier:\n  tiling: {enabled: sometimes}\n",
        "classifier.tiling.enabled: should be auto, true or false (got 'sometimes')",
    ),
    "unknown_key_of_a_source_kind": (
        "sources:\n  - {name: inbox, kind: folder, path: inbox, recursiv: true}\n",
        "sources[0].recursiv: unknown key for a folder source; did you mean 'recursive'? (valid keys: {folder_keys})",
    ),
}


def _fill(expected: str) -> str:
    expected = expected.replace("{top_keys}", ", ".join(sorted(set(Settings.model_fields) - {"config_path"})))
    if "{kinds}" in expected or "{folder_keys}" in expected:
        from monitor.sources.registry import kinds

        available = kinds()
        if "folder" not in available:
            pytest.skip("the folder source kind (monitor/sources/folder.py) is not written yet")
        common = set(SourceSettings.model_fields)
        folder_keys = ", ".join(sorted(set(available["folder"].Options.model_fields) | common))
        expected = expected.replace("{kinds}", ", ".join(sorted(available))).replace("{folder_keys}", folder_keys)
    return expected


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_gives_its_exact_one_line_error(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert str(caught.value) == f"{path}: {_fill(expected)}"
    assert "\n" not in str(caught.value)


def test_several_problems_are_counted_after_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, "ingest: {batch_size: 0, retries: 99}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert str(caught.value) == (
        f"{path}: ingest.batch_size: Input should be greater than or equal to 1 (got 0) (and 1 more problem)"
    )


@pytest.mark.parametrize(
    "text,seconds", [(90, 90.0), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0), ("1.5 min", 90.0)]
)
def test_durations(text, seconds: float) -> None:
    assert parse_duration(text) == seconds
