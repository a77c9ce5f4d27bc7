"""What a newcomer trips over (issue 11 item 10): a mismatched --interface,
import and syntax errors, what --mode auto says and how often it imports,
Ctrl+C while it probes, protocol errors in the log, and the default response
fields (--header, --server-header, --date-header)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
import time

import httpx
import psutil
import pytest

from harness import (APPS, START_TIMEOUT, TRACEBACK, RawConn, Server, free_port, run_cli, run_failing,
                     wait_for_log)

pytestmark = pytest.mark.subcorn_only

# --- --interface that does not fit the app --------------------------------------------


@pytest.mark.parametrize("app, flag", [
    ("interface_shapes:asgi_function", "wsgi"),
    ("interface_shapes:asgi_instance", "wsgi"),  # a class with an async __call__
    ("interface_shapes:asgi_partial", "wsgi"),
    ("interface_shapes:django_asgi", "wsgi"),
    ("interface_shapes:starlette_app", "wsgi"),
    ("interface_shapes:wsgi_function", "asgi"),
    ("interface_shapes:wsgi_partial", "asgi"),
    ("interface_shapes:django_wsgi", "asgi"),
    ("interface_shapes:flask_app", "asgi"),
])
def test_a_mismatched_interface_is_one_line_and_exit_1(app, flag):
    t0 = time.monotonic()
    done = run_failing(app, "--interface", flag, "--mode", "interpreters")
    assert done.returncode == 1, done.stderr
    assert TRACEBACK not in done.stderr, done.stderr
    other = "asgi" if flag == "wsgi" else "wsgi"
    lines = [line for line in done.stderr.splitlines() if f"--interface {flag} does not fit {app}" in line]
    assert lines and f"--interface {other} or auto" in lines[0], done.stderr
    assert "ASGI app" in lines[0] if flag == "wsgi" else "WSGI app" in lines[0]
    assert time.monotonic() - t0 < START_TIMEOUT


def test_a_mismatch_is_caught_in_processes_mode_too():
    done = run_failing("interface_shapes:asgi_function", "--interface", "wsgi", "--mode", "processes")
    assert done.returncode == 1, done.stderr
    assert "--interface wsgi does not fit" in done.stderr, done.stderr


@pytest.mark.parametrize("app, flag, text", [
    ("interface_shapes:wsgi_partial", "auto", "wsgi partial"),
    ("interface_shapes:asgi_partial", "auto", "asgi partial"),
    ("interface_shapes:starlette_app", "auto", "starlette"),
    ("interface_shapes:wsgi_partial", "wsgi", "wsgi partial"),
    ("interface_shapes:asgi_partial", "asgi", "asgi partial"),
    ("interface_shapes:django_wsgi", "wsgi", "django via wsgi"),
    ("interface_shapes:django_asgi", "asgi", "django via asgi"),
])
def test_partials_and_fitting_interfaces_serve(server, app, flag, text):
    s = server(app, "--interface", flag, "--mode", "interpreters")
    r = httpx.get(s.url + "/")
    assert (r.status_code, r.text) == (200, text), s.stderr


# --- import errors ----------------------------------------------------------------------


def write(directory, name, text):
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_an_import_error_shows_the_apps_frames_only(tmp_path, mode):
    app = write(tmp_path, "broken_app.py", """\
        import broken_helper

        app = broken_helper.make()
        """)
    helper = write(tmp_path, "broken_helper.py", """\
        def make():
            settings = {}
            return settings["missing-setting"]
        """)
    done = run_cli(["broken_app:app", "--app-dir", str(tmp_path), "--port", str(free_port()),
                    "--workers", "2", "--mode", mode], timeout=START_TIMEOUT + 10)
    err = done.stderr
    assert done.returncode == 1, err
    assert TRACEBACK in err, err
    assert f'File "{app}", line 3, in <module>' in err, err
    assert f'File "{helper}", line 3, in make' in err, err
    assert "KeyError: 'missing-setting'" in err
    # None of the import machinery's frames, nor subcorn's importer.
    assert "_importer.py" not in err and "importlib" not in err and "<frozen" not in err, err
    assert f"(at {helper}:3)" in err, err


def test_a_syntax_error_points_at_the_users_file_and_line(tmp_path):
    path = write(tmp_path, "syntax_app.py", """\
        async def app(scope, receive, send):
            if scope["type"] == "http"
                pass
        """)
    done = run_cli(["syntax_app:app", "--app-dir", str(tmp_path), "--port", str(free_port())],
                   timeout=START_TIMEOUT + 10)
    err = done.stderr
    assert done.returncode == 1, err
    assert f'File "{path}", line 2' in err, err
    assert 'if scope["type"] == "http"' in err and "SyntaxError" in err, err
    assert f"(at {path}:2)" in err, err
    assert "_importer.py" not in err, err


# --- --mode auto ------------------------------------------------------------------------


def counted_env(tmp_path, **extra):
    return {"TESTAPP_IMPORTS": str(tmp_path / "imports"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            **extra}


def imports(tmp_path) -> int:
    path = tmp_path / "imports"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_auto_says_what_it_checks_and_remembers_it(server, tmp_path):
    env = counted_env(tmp_path)
    first = server("import_counter:app", env=env)
    assert httpx.get(first.url).text == "counted"
    assert "Checking whether import_counter:app loads in a sub-interpreter" in first.stderr
    assert imports(tmp_path) == 2  # the probe, then the worker
    first.stop()

    second = server("import_counter:app", env=env)
    assert httpx.get(second.url).text == "counted"
    assert imports(tmp_path) == 3  # the worker only
    assert "Checking whether" not in second.stderr, second.stderr
    assert "no need to check again" in second.stderr, second.stderr
    second.stop()

    # A changed file (here the app's own) is checked again.
    source = APPS / "import_counter.py"
    stamp = source.stat()
    os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    try:
        third = server("import_counter:app", env=env)
        assert httpx.get(third.url).text == "counted"
        assert "Checking whether" in third.stderr, third.stderr
        assert imports(tmp_path) == 5
    finally:
        os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))


def test_auto_checks_again_when_the_environment_changes(server, tmp_path):
    first = server("import_counter:app", env=counted_env(tmp_path))
    assert httpx.get(first.url).text == "counted"  # the worker has imported it too
    first.stop()
    s = server("import_counter:app", env=counted_env(tmp_path, DATABASE_URL="sqlite:///x"))
    assert httpx.get(s.url).text == "counted"
    assert "Checking whether" in s.stderr
    assert imports(tmp_path) == 4


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_probing_stops_quietly(server, tmp_path, signum):
    s = server("import_counter:app", env=counted_env(tmp_path, TESTAPP_IMPORT_SECONDS="60"), wait=False)
    wait_for_log(s, "Checking whether", timeout=START_TIMEOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while imports(tmp_path) == 0:  # the probe is inside the app's import now
        assert time.monotonic() < deadline, s.stderr
        time.sleep(0.05)
    probes = [p for p in psutil.process_iter(["cmdline"])
              if any("import_counter:app" in part for part in p.info["cmdline"] or [])
              and p.pid != s.pid]
    assert probes, "no probe process"
    t0 = time.monotonic()
    s.proc.send_signal(signum)
    assert s.wait(10) == 128 + signum
    assert time.monotonic() - t0 < 5
    assert TRACEBACK not in s.stderr, s.stderr
    assert f"Stopped ({signal.Signals(signum).name}) while checking the app" in s.stderr
    gone, alive = psutil.wait_procs(probes, timeout=5)
    assert not alive, "the probe process outlived the server"


# --- protocol errors in the log -------------------------------------------------------


def invalid_lines(s: Server) -> list[str]:
    return [line for line in s.stderr.splitlines() if "Invalid HTTP request received" in line]


def test_a_malformed_request_is_logged_with_client_and_reason(server):
    s = server("hello:app")
    with RawConn(s.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n")
        port = c.local_port
        assert c.read_response().status == 400
    wait_for_log(s, "Invalid HTTP request received")
    [line] = invalid_lines(s)
    assert line.startswith("WARNING:"), line
    assert f"from 127.0.0.1:{port}: 400 Bad Request (" in line, line


def test_a_flood_of_bad_requests_is_one_line_then_a_count(server):
    s = server("hello:app")
    for _ in range(40):
        with RawConn(s.port) as c:
            c.send(b"NOT HTTP AT ALL\r\n\r\n")
            c.read_until_close()
    wait_for_log(s, "Invalid HTTP request received")
    time.sleep(0.5)
    assert len(invalid_lines(s)) == 1, s.stderr
    # The rest are counted into one line once the interval (10 s) is up.
    wait_for_log(s, "39 more invalid HTTP requests received", timeout=15)
    assert len(invalid_lines(s)) == 1, s.stderr


@pytest.mark.parametrize("flags, request_bytes, status", [
    (("--limit-request-fields", "2"), b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", 431),
    (("--limit-request-body", "10"), b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 413),
    (("--timeout-request-header", "1"), b"GET / HTTP/1.1\r\nHost: x\r\n", 408),
])
def test_limits_and_timeouts_are_logged(server, flags, request_bytes, status):
    s = server("hello:app", *flags)
    with RawConn(s.port) as c:
        c.send(request_bytes)
        assert c.read_response(timeout=5).status == status
    wait_for_log(s, "Invalid HTTP request received")
    assert f": {status} " in invalid_lines(s)[0], s.stderr


# --- default response fields ----------------------------------------------------------


def raw_get(port: int, request: bytes = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
    with RawConn(port) as c:
        c.send(request)
        return c.read_response()


def curl_h2_headers(url: str) -> str:
    return subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "--http2-prior-knowledge", url],
                          capture_output=True, text=True, timeout=10, check=True).stdout.lower()


def test_server_and_date_by_default(server):
    s = server("hello:app")
    r = raw_get(s.port)
    assert r.header_list("server") == ["subcorn"]
    assert len(r.header_list("date")) == 1


def test_header_flags_on_every_response(server):
    s = server("hello:app", "--header", "X-Frame-Options: DENY", "--header", "x-team:core",
               "--header", "Server: edge/1", "--no-date-header")
    ok = raw_get(s.port)
    assert ok.header_list("x-frame-options") == ["DENY"]
    assert ok.header_list("x-team") == ["core"]
    assert ok.header_list("server") == ["edge/1"]
    assert ok.header("date") is None
    # The server's own answers carry them too.
    bad = raw_get(s.port, b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
    assert bad.status == 400
    assert bad.header_list("x-frame-options") == ["DENY"] and bad.header_list("server") == ["edge/1"]
    # And HTTP/2's.
    h2 = curl_h2_headers(s.url + "/")
    assert "x-frame-options: deny" in h2 and "x-team: core" in h2 and "server: edge/1" in h2, h2
    assert "date:" not in h2, h2


def test_the_apps_own_field_wins(server):
    s = server("own_headers:app", "--header", "x-custom: default", "--header", "server: default")
    r = raw_get(s.port)
    assert r.status == 200, r
    assert r.header_list("x-custom") == ["from the app"], r.headers
    assert r.header_list("server") == ["app/1"], r.headers


def test_no_server_header(server):
    s = server("hello:app", "--no-server-header")
    r = raw_get(s.port)
    assert r.header("server") is None
    assert r.header("date") is not None
    assert "server:" not in curl_h2_headers(s.url + "/")


@pytest.mark.parametrize("header, mention", [
    ("X-Split: a\r\nx-injected: 1", "CR, LF or NUL"),
    ("Bad Name: 1", "not a valid header name"),
    ("no-colon", "NAME:VALUE"),
    ("Content-Length: 5", "sets this field itself"),
])
def test_a_bad_header_flag_is_one_line_and_exit_1(header, mention):
    done = run_failing("hello:app", "--header", header)
    assert done.returncode == 1, done.stderr
    assert TRACEBACK not in done.stderr
    assert re.search(r"^ERROR:.*" + re.escape(mention), done.stderr, re.M), done.stderr
    assert "Started worker" not in done.stderr
