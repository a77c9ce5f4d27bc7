"""Bad requests and failing apps: the right answer, then the server goes on."""

import httpx
import pytest

from harness import TRACEBACK, IncompleteResponse, RawConn, parse_status, raw_exchange

BAD_REQUESTS = {
    "malformed request line": (b"GARBAGE\r\n\r\n", 400),
    "content-length and transfer-encoding": (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n", 400),
    "invalid chunk size": (
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    "invalid header name": (b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n", 400),
}


def assert_still_serving(server):
    r = httpx.get(server.url + "/after", headers={"Connection": "close"})
    assert (r.status_code, r.text) == (200, "fine")


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_request_gets_400_and_close(server, name):
    payload, status = BAD_REQUESTS[name]
    s = server("errors:app")
    ex = raw_exchange(s.port, payload, timeout=5)
    assert ex.closed, f"connection left open after a bad request: {ex.data!r}"
    assert parse_status(ex.data)[1] == status, ex.data
    assert_still_serving(s)


@pytest.mark.subcorn_only
def test_huge_header_gets_431(server):
    # uvicorn with httptools sets no limit on the size of a request head.
    s = server("errors:app")
    payload = b"GET / HTTP/1.1\r\nHost: t\r\nX-Huge: " + b"a" * 100_000 + b"\r\n\r\n"
    ex = raw_exchange(s.port, payload, timeout=5)
    assert ex.closed
    assert parse_status(ex.data)[1] == 431, ex.data[:200]
    assert_still_serving(s)


def test_exception_before_response_is_500_and_logged(server):
    s = server("errors:app")
    r = httpx.get(s.url + "/before")
    assert r.status_code == 500
    assert_still_serving(s)
    assert TRACEBACK in s.output
    assert "boom-before-start-4711" in s.output


@pytest.mark.parametrize("path, message", [("/after-length", "boom-after-length-4712"),
                                           ("/after-chunked", "boom-after-chunked-4713")])
def test_exception_after_response_start_cuts_the_connection(server, path, message):
    s = server("errors:app")
    with RawConn(s.port) as c:
        c.request("GET", path)
        with pytest.raises(IncompleteResponse) as cut:
            c.read_response()
    partial = cut.value.response
    assert partial is not None and partial.status == 200
    # Fewer bytes than content-length, or a chunked body with no last chunk.
    assert not partial.complete
    assert partial.body in (b"0123456789", b"first part")
    assert_still_serving(s)
    assert message in s.output
