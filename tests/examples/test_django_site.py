"""What only the Django example has: the template page, static files, the admin;
served both as WSGI and as ASGI, with a clean log."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from appserver import REPO, AppServer, server_env
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


def demo_admin_password(site: AppServer) -> str:
    """What ./dev demo prints: `manage.py demoadmin` on the site's database."""
    done = subprocess.run([sys.executable, "examples/django_site/manage.py", "demoadmin"], cwd=REPO,
                          env=server_env(site.env), capture_output=True, text=True, timeout=60, check=True)
    found = re.search(r"log into /admin/ as 'admin' with the password '([^']+)'", done.stdout)
    assert found, done.stdout + done.stderr
    assert "createsuperuser" in done.stdout and f"DATA_DIR={site.env['DATA_DIR']}" in done.stdout
    return found.group(1)


def test_the_demo_admin_logs_in_and_its_javascript_is_served(site: AppServer) -> None:
    password = demo_admin_password(site)
    assert demo_admin_password(site) == password  # the same one at every start
    with client(site) as c:
        login = expect(c.get("/admin/login/?next=/admin/"), 200, site)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        done = c.post("/admin/login/?next=/admin/", data={
            "csrfmiddlewaretoken": token, "username": "admin", "password": password,
            "next": "/admin/"}, headers={"Referer": site.url + "/admin/login/"})
        expect(done, 302, site)
        add = expect(c.get("/admin/notes/note/add/"), 200, site)
        scripts = re.findall(r'<script src="([^"]+)"', add.text)
        # The admin's jQuery (a link to libjs-jquery's file on Debian) and what needs it.
        assert any("/vendor/jquery/jquery" in src for src in scripts), scripts
        for src in scripts:
            r = expect(c.get(src), 200, site)
            assert len(r.content) > 100, src


def test_clean_log(site: AppServer) -> None:
    check_clean_log(site, ("/", "/api/notes", "/static/notes/style.css", "/admin/login/"))
