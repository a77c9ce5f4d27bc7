"""Connection reuse, closing, pipelining and the keep-alive / header timeouts
(apps/paths.py echoes the path after ?sleep=S)."""

import time

import pytest

from harness import RawConn, parse_status

APP = "paths:app"


def test_several_requests_on_one_connection(server):
    s = server(APP)
    with RawConn(s.port) as c:
        for i in range(5):
            c.request("GET", f"/req{i}")
            r = c.read_response()
            assert (r.status, r.body) == (200, f"path=/req{i}".encode())
        c.request("POST", "/with-body", body=b"x" * 1000)
        assert c.read_response().body == b"path=/with-body"


def test_connection_close_is_honoured(server):
    s = server(APP)
    with RawConn(s.port) as c:
        c.request("GET", "/last", headers=[("Connection", "close")])
        r = c.read_response()
        assert r.body == b"path=/last"
        assert c.closed_within(3) is not None, "server kept the connection open"
    assert (r.header("connection") or "close").lower() == "close"


def test_http_10_without_keep_alive_closes(server):
    s = server(APP)
    with RawConn(s.port) as c:
        c.send(b"GET /old HTTP/1.0\r\nHost: testserver\r\n\r\n")
        data = c.read_until_close(timeout=3)
    assert parse_status(data)[1] == 200
    assert data.endswith(b"path=/old")


def test_pipelined_requests_answer_in_order(server):
    s = server(APP)
    with RawConn(s.port) as c:
        # The first is the slowest: a server that answers as apps finish
        # instead of in request order would put it last.
        c.send(b"GET /first?sleep=0.5 HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /second?sleep=0.1 HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /third HTTP/1.1\r\nHost: t\r\n\r\n")
        bodies = [c.read_response().body for _ in range(3)]
    assert bodies == [b"path=/first", b"path=/second", b"path=/third"]


def test_idle_keep_alive_connection_closed_after_timeout(server):
    s = server(APP, "--timeout-keep-alive", "1")
    with RawConn(s.port) as c:
        c.request("GET", "/once")
        assert c.read_response().status == 200
        closed_after = c.closed_within(6)
    assert closed_after is not None, "idle connection never closed"
    assert 0.5 <= closed_after <= 3.0, closed_after


def test_keep_alive_timeout_restarts_per_request(server):
    s = server(APP, "--timeout-keep-alive", "1")
    with RawConn(s.port) as c:
        for i in range(4):  # 4 x 0.6 s: longer than the timeout in all
            c.request("GET", f"/r{i}")
            assert c.read_response().status == 200
            time.sleep(0.6)
        c.request("GET", "/still-open")
        assert c.read_response().body == b"path=/still-open"


@pytest.mark.subcorn_only
def test_slow_header_client_is_disconnected(server):
    # uvicorn starts no timer until a whole request has arrived, so a client
    # that sends half a head and stalls holds the connection forever. subcorn
    # bounds it with --timeout-request-header (default 10 s): 408, then close.
    s = server(APP, "--timeout-keep-alive", "1", "--timeout-request-header", "2")
    with RawConn(s.port) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: testserver\r\nX-Partial: ")
        closed_after = c.closed_within(10)
        answered = c.buf
    assert closed_after is not None, "half-sent request head held the connection open for 10 s"
    assert 1.5 <= closed_after <= 5, closed_after
    assert parse_status(answered)[1] == 408, answered


@pytest.mark.subcorn_only
def test_silent_connection_is_disconnected(server):
    # As above, for a client that connects and sends nothing at all.
    s = server(APP, "--timeout-keep-alive", "1")
    with RawConn(s.port) as c:
        assert c.closed_within(10) is not None, "silent connection held open for 10 s"
