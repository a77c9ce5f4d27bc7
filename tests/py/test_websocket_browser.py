"""A real browser's WebSocket: headless Chromium (Debian's chromium and
chromium-driver, driven by selenium) loads the page apps/ws_echo.py serves at
/, whose script (apps/ws_page.html) opens a WebSocket to the same server,
sends a text and a binary message, checks the echoes and closes with 4002
"browser-bye". The app records the close it saw (WS_EVENTS).

Chromium runs as root here, hence --no-sandbox; it only ever talks to
127.0.0.1 (no proxy, no background or component-update traffic).
"""

from __future__ import annotations

import json
import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

APP = "ws_echo:app"

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--no-default-browser-check", "--no-proxy-server",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--disable-default-apps",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    # The driver path given outright: selenium never looks for (or fetches) one.
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def test_browser_echoes_and_closes_with_code_and_reason(server, events, browser):
    s = server(APP, env=events.env)
    browser.get(f"http://127.0.0.1:{s.port}/")
    result_text = WebDriverWait(browser, 15).until(
        lambda b: (t := b.find_element(By.ID, "result").text) != "running" and t)
    result = json.loads(result_text)
    assert result == {"text_echoed": True, "binary_echoed": True, "close_code": 4002,
                      "close_reason": "browser-bye", "was_clean": True}, result
    seen = events.wait_for("disconnect", path="/echo")
    assert (seen["code"], seen["reason"]) == (4002, "browser-bye")
