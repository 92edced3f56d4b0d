"""Headless Chromium with every network request refused: each chart renders, the map draws land and points
from the data inside the file, and the lift axis reads 0.5x, 1x, 2x."""

from __future__ import annotations

from pathlib import Path

from browser import chromium_driver, needs_chromium
from report_seed import Campaign, seed, window_of
from reports import build_campaign_report, write_report

pytestmark = needs_chromium

PROBE = """
const q = (s) => Array.from(document.querySelectorAll(s));
return {
  charts: q('.chart').map(c => [c.id, !!c.querySelector('svg.main-svg')]),
  land: q('#chart-map path.land, #chart-map .land path').length,
  countries: q('#chart-map .countries path').length,
  points: q('#chart-map .scattergeo path.point').length,
  liftTicks: q('#chart-lift .ytick text').map(t => t.textContent),
  failed: performance.getEntriesByType('resource').map(r => r.name).filter(n => !n.startsWith('data:')),
};
"""


def test_every_chart_and_the_offline_map_render(sqlite_url: str, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    # Acme triples during the campaign and halves after: the lift axis must span 0.5x..3x on a log scale.
    db = seed(
        sqlite_url,
        lambda d: 400,
        lambda d: {"Acme": {"before": 20, "during": 60, "after": 10}[window_of(d)], "Globex": 30},
    )
    report = build_campaign_report(db, Campaign())
    html = write_report(report, tmp_path / "out", ["html"])[0]
    driver = chromium_driver(offline=True)
    try:
        driver.get(html.resolve().as_uri())
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script(
                "return Array.from(document.querySelectorAll('.chart')).every(c => c.querySelector('svg.main-svg'))"
                " && document.querySelectorAll('#chart-map .scattergeo path.point').length > 0"
            )
        )
        seen = driver.execute_script(PROBE)
        logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        driver.set_window_size(1280, min(int(driver.execute_script("return document.body.scrollHeight")) + 40, 9000))
        driver.save_screenshot(str(tmp_path / "charts.png"))
        driver.find_element("id", "chart-map").screenshot(str(tmp_path / "map.png"))
    finally:
        driver.quit()
        db.dispose()
    assert logs == []
    assert {name for name, _ in seen["charts"]} >= {
        "chart-lift",
        "chart-series",
        "chart-share",
        "chart-share_period",
        "chart-reach",
        "chart-map",
    }
    assert all(drawn for _, drawn in seen["charts"])
    assert seen["land"] > 0 and seen["countries"] > 0  # drawn from the inlined topojson: nothing was fetched
    assert seen["points"] == 2  # Paris and New York
    assert [t for t in seen["liftTicks"] if t in ("0.5x", "1x", "2x")] == ["0.5x", "1x", "2x"]
    assert not any(t.strip().isdigit() for t in seen["liftTicks"])  # never "9 8 7"
    assert seen["failed"] == []
    assert (tmp_path / "map.png").stat().st_size > 5_000 and (tmp_path / "charts.png").stat().st_size > 20_000
