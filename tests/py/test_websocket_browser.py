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

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chromium import start_chromium

APP = "ws_echo:app"


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path)
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
