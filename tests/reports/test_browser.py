"""Headless Chromium opens the HTML report from disk with networking off: charts render, no console errors."""

from __future__ import annotations

from pathlib import Path

from browser import chromium_driver, needs_chromium
from report_seed import END, START, Campaign, seed, window_of
from reports import build_campaign_report, build_period_report, write_report


def open_in_chromium(html: Path, screenshot: Path) -> dict:
    """Load the file offline, wait for every plotly chart, return console entries and chart counts."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium_driver(offline=True)
    try:
        driver.get(html.resolve().as_uri())
        charts = driver.execute_script("return document.querySelectorAll('.chart').length")
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script(
                "return Array.from(document.querySelectorAll('.chart')).every(c => c.querySelector('svg.main-svg'))"
            )
        )
        rendered = driver.execute_script("return document.querySelectorAll('.chart svg.main-svg').length")
        alerts = driver.execute_script("return window.__alerted || 0")
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, min(int(height) + 40, 9000))
        driver.save_screenshot(str(screenshot))
        return {
            "charts": charts,
            "rendered": rendered,
            "logs": driver.get_log("browser"),
            "alerts": alerts,
            "headline": driver.find_element("id", "headline").text,
        }
    finally:
        driver.quit()


@needs_chromium
def test_report_renders_offline_in_chromium(tmp_path: Path, sqlite_url: str, artifacts_dir: Path) -> None:
    evil = "<script>alert(1)</script>"
    db = seed(
        sqlite_url,
        lambda d: 400,
        lambda d: {"Acme": 16 if window_of(d) == "during" else 8, "Globex": 12, evil: 10},
        caption='=HYPERLINK("http://x","y") <img src=x onerror="window.__alerted=1">',
        places=("Paris", "<b>Lyon</b>"),
    )
    report = build_campaign_report(db, Campaign(competitors=("Globex", evil)))
    html = [p for p in write_report(report, tmp_path / "out", ["html"]) if p.suffix == ".html"][0]
    # Make any script injection visible: alert() would set a flag instead of blocking.
    text = html.read_text(encoding="utf-8").replace(
        "<head>", "<head><script>window.alert = function () { window.__alerted = 1; };</script>", 1
    )
    html.write_text(text, encoding="utf-8")
    result = open_in_chromium(html, artifacts_dir / "report-campaign.png")
    severe = [entry for entry in result["logs"] if entry["level"] == "SEVERE"]
    assert severe == []
    assert result["charts"] >= 4 and result["rendered"] >= result["charts"]
    assert result["alerts"] == 0
    assert "Acme appeared in 2.0x" in result["headline"]
    assert (artifacts_dir / "report-campaign.png").stat().st_size > 10_000

    period = build_period_report(db, START, END, by="week", tracked=["Acme", "Globex"])
    html = [p for p in write_report(period, tmp_path / "period", ["html"]) if p.suffix == ".html"][0]
    result = open_in_chromium(html, artifacts_dir / "report-period.png")
    assert [e for e in result["logs"] if e["level"] == "SEVERE"] == []
    assert result["charts"] >= 3 and result["rendered"] >= result["charts"]
    db.dispose()
