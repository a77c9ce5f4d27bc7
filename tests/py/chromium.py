"""Headless Chromium for the browser tests (Debian's chromium and
chromium-driver, driven by selenium). Chromium runs as root here, hence
--no-sandbox; it only ever talks to 127.0.0.1 (no proxy, no background or
component-update traffic)."""

from __future__ import annotations

import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def start_chromium(workdir: Path, *extra_flags: str) -> webdriver.Chrome:
    """A headless Chromium with its profile and driver log in `workdir`;
    the caller quits it."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--no-default-browser-check", "--no-proxy-server",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--disable-default-apps",
                 f"--user-data-dir={workdir / 'chromium-profile'}", *extra_flags):
        options.add_argument(flag)
    # The driver path given outright: selenium never looks for (or fetches) one.
    service = Service(executable_path=CHROMEDRIVER, log_output=str(workdir / "chromedriver.log"))
    return webdriver.Chrome(options=options, service=service)
