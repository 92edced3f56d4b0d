"""Headless Chromium opens the HTML report from disk with networking off: charts render, no console errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_seed import END, START, Campaign, seed, window_of
from reports import build_campaign_report, build_period_report, write_report

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def open_in_chromium(html: Path, screenshot: Path) -> dict:
    """Load the file offline, wait for every plotly chart, return console entries and chart counts."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
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


@pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (make browser)",
)
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
