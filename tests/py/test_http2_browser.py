"""A real browser over HTTP/2: headless Chromium (selenium, chromium-driver)
loads a page over https:// from the server under test, whose script fetches
several resources at once. The certificate comes from a throwaway CA made in
the test (trustme); Chromium is told to trust the leaf's public key with
--ignore-certificate-errors-spki-list (which it honours with a
--user-data-dir). The app (apps/h2_apps.py) records, for each request, the
client port and http_version it saw: all of them must have come over one
HTTP/2 connection.
"""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chromium import start_chromium
from h2wire import make_tls

APP = "h2_apps:app"
RESOURCES = 8


@pytest.fixture
def tls(tmp_path):
    return make_tls(tmp_path / "tls")


@pytest.fixture
def browser(tmp_path, tls):
    driver = start_chromium(tmp_path, "--disable-quic",
                            f"--ignore-certificate-errors-spki-list={tls.spki_sha256_b64}")
    try:
        yield driver
    finally:
        driver.quit()


def test_browser_fetches_resources_at_once_over_one_http2_connection(server, events, tls,
                                                                       browser):
    s = server(APP, *tls.server_flags, env=events.env)
    browser.get(f"https://127.0.0.1:{s.port}/?count={RESOURCES}")
    text = WebDriverWait(browser, 20).until(
        lambda b: (t := b.find_element(By.ID, "result").text) != "running" and t)
    assert not text.startswith("error"), text
    answers = json.loads(text)
    assert sorted(a["path"] for a in answers) == sorted(f"/res/{i}" for i in range(RESOURCES))
    assert {a["http_version"] for a in answers} == {"2"}

    seen = events.all("request")
    paths = sorted(e["path"] for e in seen)
    assert paths == sorted(["/"] + [f"/res/{i}" for i in range(RESOURCES)]), paths
    assert {e["http_version"] for e in seen} == {"2"}, seen
    connections = {tuple(e["client"]) for e in seen}
    assert len(connections) == 1, f"{len(connections)} connections: {connections}"


def test_browser_refuses_a_certificate_it_was_not_told_to_trust(server, tmp_path, browser):
    """The check above is not vacuous: another CA's certificate is refused."""
    other = make_tls(tmp_path / "other")
    s = server(APP, *other.server_flags)
    browser.get(f"https://127.0.0.1:{s.port}/?count=1")
    assert not browser.find_elements(By.ID, "result"), "the page loaded with an untrusted cert"
