"""Response framing on the wire: the exact bytes a client gets when an app
streams into a file, answers HEAD, overruns its Content-Length or makes a
mistake in its head, and the server's own answers on a keep-alive connection
(the findings of the hostile review of the response path)."""

from __future__ import annotations

import subprocess

import pytest

from harness import RawConn, raw_exchange, wait_for_log

pytestmark = pytest.mark.subcorn_only

WSGI = "framing_apps:wsgi"
ASGI = "framing_apps:asgi"
ELEVEN = b"hello world"
# What framing_apps.py sets on /server-and-date.
APP_SERVER = "framing-app/1.0"
APP_DATE = "Mon, 07 Nov 1994 00:00:00 GMT"


@pytest.fixture
def files(tmp_path):
    """The files the WSGI app wraps, and the environment that names them."""
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "eleven.bin").write_bytes(ELEVEN)
    return {"FRAMING_DIR": str(tmp_path)}


def get(path: str, method: str = "GET", close: bool = True) -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: t\r\n"
            + ("Connection: close\r\n" if close else "") + "\r\n").encode()


def split_head(data: bytes) -> tuple[bytes, bytes]:
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, f"no complete head in {data[:300]!r}"
    return head, rest


def head_values(head: bytes, name: str) -> list[str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [v.strip() for k, v in (line.split(":", 1) for line in lines) if k.lower() == name]


def assert_still_serving(s) -> None:
    ex = raw_exchange(s.port, get("/after"), timeout=5)
    assert ex.data.startswith(b"HTTP/1.1 200 OK\r\n"), ex.data[:300]
    assert ex.data.endswith(b"\r\n\r\nfine"), ex.data[-100:]


# ---- (a) write() then an empty file ------------------------------------------------

def test_write_then_empty_file_ends_the_chunked_body_once(server, files):
    # The server used to send "1\r\nx\r\n0\r\n0\r\n\r\n": the empty file became
    # a chunk-size line "0" (the end of the body) before the last chunk.
    s = server(WSGI, env=files)
    with RawConn(s.port) as c:
        c.send(get("/write-then-empty-file", close=False) + get("/after"))
        data = c.read_until_close()
    head, rest = split_head(data)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert head_values(head, "transfer-encoding") == ["chunked"]
    # The exact body, then at once the next response on the same connection.
    assert rest.startswith(b"1\r\nx\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"), rest
    assert rest.endswith(b"\r\n\r\nfine"), rest


def test_write_then_empty_file_reads_back_in_curl(server, files):
    s = server(WSGI, env=files)
    r = subprocess.run(["curl", "-sS", "--max-time", "5", s.url + "/write-then-empty-file"],
                       capture_output=True, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"x", b"")


def test_write_then_file_is_one_more_chunk(server, files):
    s = server(WSGI, env=files)
    ex = raw_exchange(s.port, get("/write-then-file"), timeout=5)
    head, rest = split_head(ex.data)
    assert head_values(head, "transfer-encoding") == ["chunked"]
    assert rest == b"1\r\nx\r\nb\r\nhello world\r\n0\r\n\r\n"


# ---- (b) HEAD never carries body bytes -----------------------------------------------

@pytest.mark.parametrize("path", ["/write-then-empty-file", "/write-then-file"])
def test_head_with_write_then_file_sends_no_body_and_pipelining_goes_on(server, files, path):
    s = server(WSGI, env=files)
    with RawConn(s.port) as c:
        c.send(get(path, method="HEAD", close=False) + get("/after"))
        data = c.read_until_close()
    head, rest = split_head(data)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    # Not one chunk byte: the next thing on the wire is the second response.
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n"), rest
    assert rest.endswith(b"\r\n\r\nfine"), rest


# ---- (c) a file longer than the declared Content-Length ---------------------------

def test_file_longer_than_content_length_is_500_when_nothing_was_sent(server, files):
    s = server(WSGI, env=files)
    ex = raw_exchange(s.port, get("/file-longer-than-length"), timeout=5)
    assert ex.data.startswith(b"HTTP/1.1 500 "), ex.data[:300]
    assert ex.closed
    assert ELEVEN not in ex.data
    wait_for_log(s, "longer than Content-Length")
    assert_still_serving(s)


def test_file_longer_than_what_is_left_never_sends_more_than_declared(server, files):
    s = server(WSGI, env=files)
    # Keep-alive, and a second request behind: it must not be answered on a
    # connection whose framing the app broke.
    ex = raw_exchange(s.port, get("/write-then-file-longer-than-length", close=False)
                      + get("/after"), timeout=5)
    assert ex.closed, "connection left open after a broken response"
    head, rest = split_head(ex.data)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
    assert head_values(head, "content-length") == ["5"]
    assert len(rest) <= 5 and rest.startswith(b"x"), rest
    wait_for_log(s, "longer than Content-Length")
    assert_still_serving(s)


# ---- (d) the app's mistakes: 500, a log line naming them, and the server goes on ----

MISTAKES = [
    # (interface, path, what the log must name)
    ("wsgi", "/two-lengths", "Two different Content-Length values"),
    ("asgi", "/two-lengths", "Two different Content-Length values"),
    ("wsgi", "/length-on-204", "Content-Length is not allowed on a 204"),
    ("asgi", "/length-on-204", "Content-Length is not allowed on a 204"),
    ("wsgi", "/status-101", "not a valid final status"),
    ("asgi", "/status-101", "not a valid final status"),
    ("wsgi", "/status-099", "not a valid final status"),
    ("wsgi", "/cr-lf-in-value", "Invalid HTTP header value"),
    ("asgi", "/cr-lf-in-value", "Invalid HTTP header value"),
    ("wsgi", "/lf-in-value", "Invalid HTTP header value"),
    ("asgi", "/lf-in-value", "Invalid HTTP header value"),
]


@pytest.mark.parametrize("interface, path, named", MISTAKES,
                         ids=[f"{i}{p}" for i, p, _ in MISTAKES])
def test_app_mistake_is_500_logged_and_the_server_goes_on(server, files, interface, path, named):
    s = server(WSGI if interface == "wsgi" else ASGI, env=files)
    ex = raw_exchange(s.port, get(path, close=False), timeout=5)
    assert ex.data.startswith(b"HTTP/1.1 500 "), ex.data[:300]
    assert ex.closed, "connection left open after a 500"
    # Nothing of the app's head went out, and only one response did.
    assert b"stolen" not in ex.data and b"X-Injected" not in ex.data
    assert ex.data.count(b"HTTP/1.1 ") == 1, ex.data
    wait_for_log(s, named)
    assert_still_serving(s)


# ---- (e) the app's Server and Date replace the server's --------------------------------

@pytest.mark.parametrize("interface", ["wsgi", "asgi"])
def test_app_server_and_date_are_sent_once(server, files, interface):
    s = server(WSGI if interface == "wsgi" else ASGI, env=files)
    ex = raw_exchange(s.port, get("/server-and-date"), timeout=5)
    head, rest = split_head(ex.data)
    assert head_values(head, "server") == [APP_SERVER], head
    assert head_values(head, "date") == [APP_DATE], head
    assert rest == b"own headers"


# ---- (f) the server's own answers after a first response ------------------------------

def test_malformed_second_request_gets_its_400(server):
    s = server(ASGI)
    with RawConn(s.port) as c:
        c.send(get("/first", close=False))
        assert c.read_response().status == 200
        c.send(b"GARBAGE\r\n\r\n")
        rest = c.read_until_close()
    assert rest.startswith(b"HTTP/1.1 400 "), rest


def test_slow_second_head_gets_its_408(server):
    s = server(ASGI, "--timeout-request-header", "1")
    with RawConn(s.port) as c:
        c.send(get("/first", close=False))
        assert c.read_response().status == 200
        c.send(b"GET /second HTTP/1.1\r\nHost: t\r\nX-Partial: ")
        closed_after = c.closed_within(10)
        rest = c.buf
    assert closed_after is not None, "a stalled second head held the connection for 10 s"
    assert rest.startswith(b"HTTP/1.1 408 "), rest
