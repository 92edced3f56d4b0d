"""CSV and HTML output: documented columns, ISO dates, formula injection and script injection made inert."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from report_seed import Campaign, seed, window_of
from reports import build_campaign_report, build_period_report, write_report
from reports.errors import ReportError
from reports.output import parse_formats
from reports.render_csv import neutralise

EVIL_BRAND = "<script>alert(1)</script>"
EVIL_CAPTION = '=HYPERLINK("http://x","y")'
EVIL_PLACE = "+cmd|' /C calc'!A0 <img src=x onerror=alert(2)>"


@pytest.fixture
def hostile(sqlite_url: str, tmp_path: Path):
    db = seed(
        sqlite_url,
        lambda d: 300,
        lambda d: {"Acme": 12 if window_of(d) == "during" else 6, EVIL_BRAND: 9},
        caption=EVIL_CAPTION,
        places=("Paris", EVIL_PLACE),
    )
    report = build_campaign_report(db, Campaign(competitors=(EVIL_BRAND,)))
    paths = write_report(report, tmp_path / "out")
    yield report, {p.name: p for p in paths}
    db.dispose()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts, self.handlers, self.images, self.links, self.anchors = 0, [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.handlers += [(tag, name) for name, _ in attrs if name.lower().startswith("on")]
        fetched = ("src", "href") if tag != "a" else ("src",)  # a link to the post is followed only on a click
        self.links += [value for name, value in attrs if name in fetched and not value.startswith("data:")]
        if tag == "a":
            self.anchors.append(dict(attrs).get("href", ""))
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))


def test_neutralise_only_touches_text_that_a_spreadsheet_would_run() -> None:
    for text in ("=1+2", "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("Acme") == "Acme" and neutralise(-74.0) == -74.0


def test_csv_files_are_documented_iso_dated_and_formula_free(hostile) -> None:
    report, files = hostile
    described = _read(files["columns.csv"])
    for name, path in files.items():
        if name == "columns.csv" or not name.endswith(".csv"):
            continue
        with path.open(encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert header == [row["column"] for row in described if row["file"] == name], name
        for row in _read(path):
            for column, value in row.items():
                assert not value.startswith(("=", "+", "@", "\t", "\r")), (name, column, value)
                if value.startswith("-"):
                    float(value)  # only numbers may start with a minus
    examples = _read(files["examples.csv"])
    assert {row["caption"] for row in examples} == {"'" + EVIL_CAPTION}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", row["posted_at"]) for row in examples)
    places = _read(files["places.csv"])
    assert {row["place"] for row in places} == {"Paris", "'" + EVIL_PLACE}
    assert "-74.0" in {row["longitude"] for row in places}  # a negative number stays a number
    summary = _read(files["summary.csv"])
    assert {(row["window"], row["window_start"]) for row in summary} == {
        (w.name, w.first_day.isoformat()) for w in report.windows
    }
    lift = _read(files["lift.csv"])
    acme = next(row for row in lift if row["brand"] == "Acme" and row["window"] == "during")
    assert float(acme["ci_low"]) > 1


def test_html_is_self_contained_and_user_text_is_inert(hostile) -> None:
    report, files = hostile
    html = files["report.html"].read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(html)
    charts = html.count('class="chart"')
    assert charts == 6  # lift, time series, share, share per period, reach, map
    assert parser.scripts == 2 + charts  # plotly.js and the map data once, then one small script per chart
    assert parser.handlers == []  # no onerror= or any other handler came through
    assert parser.images and all(src.startswith("data:image/jpeg;base64,") for src in parser.images)
    assert EVIL_BRAND not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert parser.links == []  # nothing to fetch
    assert parser.anchors and all(a.startswith("https://example.test/p/") for a in parser.anchors)  # top posts
    figures = re.findall(r"var f = (\{.*?\}); Plotly\.newPlot", html)
    assert len(figures) == charts
    for figure in figures:
        assert "</" not in figure
        json.loads(figure)  # still valid JSON after escaping
    assert any(EVIL_BRAND in json.dumps(json.loads(f)) for f in figures)  # the name is there, escaped


def test_period_report_writes_both_formats(planted, tmp_path: Path) -> None:
    report = build_period_report(planted, Campaign().start, Campaign().end, tracked=["Acme", "Globex"])
    names = {p.name for p in write_report(report, tmp_path, ["csv", "html"])}
    assert {"summary.csv", "timeseries.csv", "report.html", "columns.csv"} <= names
    assert "lift.csv" not in names


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ReportError, match="unknown report format pdf; choose from csv, html"):
        parse_formats("csv,pdf")
