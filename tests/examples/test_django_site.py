"""What only the Django example has: the template page, static files, the admin;
served both as WSGI and as ASGI, with a clean log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appserver import AppServer
from catalog import DJANGO
from checks import check_clean_log, client, create, expect
from launch import Launcher


@pytest.fixture(scope="module", params=sorted(DJANGO.apps))
def site(request: pytest.FixtureRequest, launcher: Launcher) -> Iterator[AppServer]:
    with launcher.serve(DJANGO, request.param) as server:
        yield server


def test_template_page_lists_notes(site: AppServer) -> None:
    with client(site) as c:
        create(c, site, "shown on the page <escaped>")
        page = expect(c.get("/"), 200, site)
    assert page.headers["content-type"].startswith("text/html")
    assert "shown on the page &lt;escaped&gt;" in page.text
    assert "/static/notes/style.css" in page.text


@pytest.mark.parametrize("path, content_type, start", [
    ("/static/notes/style.css", "text/css", "body {"),
    ("/static/admin/css/base.css", "text/css", "/*"),
])
def test_static_file(site: AppServer, path: str, content_type: str, start: str) -> None:
    with client(site) as c:
        r = expect(c.get(path), 200, site)
        expect(c.get("/static/notes/missing.css"), 404, site)
    assert r.headers["content-type"].startswith(content_type)
    assert r.text.startswith(start)
    assert int(r.headers["content-length"]) == len(r.content)


def test_admin(site: AppServer) -> None:
    with client(site) as c:
        redirect = expect(c.get("/admin/"), 302, site)
        assert redirect.headers["location"].startswith("/admin/login/")
        login = expect(c.get("/admin/login/?next=/admin/"), 200, site)
    assert "Django administration" in login.text
    assert "csrfmiddlewaretoken" in login.text


def test_clean_log(site: AppServer) -> None:
    check_clean_log(site, ("/", "/api/notes", "/static/notes/style.css", "/admin/login/"))
