"""Headless Chromium for the browser tests: one set of flags, optional offline mode, skip when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

needs_chromium = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (make browser)",
)

BASE_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1280,1000",
)
# Every request except loopback goes to a closed port and no name resolves: a page that reaches
# outside its file fails visibly instead of silently loading a CDN copy.
OFFLINE_FLAGS = (
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def chromium_options(offline: bool = False):
    """ChromeOptions for headless Chromium with browser console logging, offline flags when asked."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in BASE_FLAGS + (OFFLINE_FLAGS if offline else ()):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


def chromium_driver(offline: bool = False, page_load_timeout: float = 60):
    """A started headless Chromium driver (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(DRIVER), options=chromium_options(offline))
    driver.set_page_load_timeout(page_load_timeout)
    return driver
