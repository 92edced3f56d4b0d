"""Headless Chromium judges photos on the review page with the keyboard; judgments persist and are shared."""

from __future__ import annotations

from pathlib import Path

from conftest import BRANDS, plant_feed
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from browser import chromium_driver, needs_chromium
from monitor.review.server import start_server
from monitor.review.session import ReviewSession
from storage.judgments import judgments

EVIL = '<script>window.__alerted=1</script><img src=x onerror="window.__alerted=1">'

pytestmark = needs_chromium


def press(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    for key in keys:
        ActionChains(driver).send_keys(key).perform()


def current_image(driver) -> int:
    return int(driver.execute_script("return document.querySelector('.tile.current').getAttribute('data-image')"))


def ticked(driver, image_id: int) -> set[str]:
    return set(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('.tile[data-image=\"' + arguments[0] + '\"] input:checked'))"
            ".map(b => b.value)",
            image_id,
        )
    )


def judge_current(driver, truth: dict[str, bool]) -> int:
    """Clear, tick the true brands by their number keys, Enter; wait until the page moved on."""
    image_id = current_image(driver)
    press(driver, "0", *[str(BRANDS.index(b) + 1) for b in BRANDS if truth[b]])
    assert ticked(driver, image_id) == {b for b in BRANDS if truth[b]}
    press(driver, Keys.ENTER)
    WebDriverWait(driver, 30).until(
        lambda d: (
            d.execute_script(
                "var t = document.querySelector('.tile.current'); return t && t.getAttribute('data-image')"
            )
            != str(image_id)
        )
    )
    return image_id


def test_keyboard_judgments_are_stored_survive_a_reload_and_show_in_a_second_session(
    sqlite_url: str, tmp_path: Path, artifacts_dir: Path
) -> None:
    feed = plant_feed(sqlite_url, tmp_path / "photos", photos=60, caption=EVIL)
    server = start_server(ReviewSession(feed.db, judged_by="ana <b>lyst</b>"), port=0)
    first, second = chromium_driver(), None
    try:
        first.get(server.url)
        assert "Random sample mode" in first.find_element("id", "mode").text
        assert "more judgments needed" in first.find_element("id", "more").text
        judged = [judge_current(first, feed.truth[current_image(first)]) for _ in range(3)]
        stored = {(r["image_id"], r["brand"]): r["present"] for r in judgments(feed.db, 1)}
        assert stored == {(i, b): feed.truth[i][b] for i in judged for b in BRANDS}

        first.get(server.url)  # reload: opens at the first photo nobody judged
        assert current_image(first) not in judged
        first.get(server.url + "?at=0")
        assert current_image(first) == judged[0]
        assert ticked(first, judged[0]) == {b for b in BRANDS if feed.truth[judged[0]][b]}
        assert "judged by ana <b>lyst</b>" in first.find_element("css selector", ".tile .status").text

        first.get(server.url + "?at=3&view=grid")  # the grid: judge the second tile
        tiles = first.execute_script("return document.querySelectorAll('.tile').length")
        assert tiles > 1
        press(first, "j")
        grid_photo = current_image(first)
        press(first, "0", Keys.ENTER)
        WebDriverWait(first, 30).until(
            lambda d: d.execute_script(
                "return document.querySelector('.tile[data-image=\"' + arguments[0] + '\"]')"
                ".classList.contains('saved')",
                grid_photo,
            )
        )
        first.save_screenshot(str(artifacts_dir / "review-grid.png"))

        second = chromium_driver()
        second.get(server.url + "?at=0&view=grid")
        for image_id in judged:
            assert ticked(second, image_id) == {b for b in BRANDS if feed.truth[image_id][b]}
        assert ticked(second, grid_photo) == set()
        saved = second.execute_script("return document.querySelectorAll('.tile.saved').length")
        assert saved >= 3
        for driver in (first, second):
            assert driver.execute_script("return window.__alerted || 0") == 0
            assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
        assert {r["image_id"] for r in judgments(feed.db, 1)} == {*judged, grid_photo}
    finally:
        first.quit()
        if second is not None:
            second.quit()
        server.shutdown()
        feed.db.dispose()
