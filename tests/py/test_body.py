"""Request bodies through receive(), responses through send() (apps/body.py,
apps/responses.py)."""

import hashlib
import json
import time

import httpx
import pytest

from harness import RawConn

BODY_APP = "body:app"
RESPONSES_APP = "responses:app"


def test_empty_body_is_one_message(server):
    s = server(BODY_APP)
    r = httpx.get(s.url + "/collect")
    assert r.status_code == 200
    assert r.json()["messages"] == [{"type": "http.request", "len": 0, "more_body": False}]


def test_content_length_body(server):
    s = server(BODY_APP)
    body = bytes(range(256)) * 4096  # 1 MiB
    r = httpx.post(s.url + "/collect", content=body)
    got = r.json()
    assert got["length"] == len(body)
    assert got["sha256"] == hashlib.sha256(body).hexdigest()
    assert got["messages"][-1]["more_body"] is False
    assert all(m["more_body"] for m in got["messages"][:-1])


def test_chunked_upload_streams_to_the_app(server):
    s = server(BODY_APP)
    pieces = [b"a" * 1000, b"b" * 3000, b"c" * 10, b"d" * 20000]
    with RawConn(s.port) as c:
        c.send(b"POST /collect HTTP/1.1\r\nHost: testserver\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in pieces:
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.3)
        c.send(b"0\r\n\r\n")
        r = c.read_response()
    got = json.loads(r.body)
    body = b"".join(pieces)
    assert got["length"] == len(body)
    assert got["sha256"] == hashlib.sha256(body).hexdigest()
    # The pieces came 0.3 s apart: a server that streams hands the app more
    # than one message; only the last one ends the body.
    assert len(got["messages"]) >= 2, got["messages"]
    assert [m["more_body"] for m in got["messages"]] == [True] * (len(got["messages"]) - 1) + [False]


def test_disconnect_after_body(server, tmp_path):
    marker = tmp_path / "disconnect.txt"
    s = server(BODY_APP, env={"TESTAPP_DISCONNECT_FILE": str(marker)})
    with RawConn(s.port) as c:
        c.request("POST", "/disconnect", body=b"12345")
        time.sleep(0.5)  # the app has read the body and waits in receive()
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), s.describe()
    assert marker.read_text() == "http.disconnect"


def test_streamed_response_is_chunked(server):
    s = server(RESPONSES_APP)
    with RawConn(s.port) as c:
        c.request("GET", "/stream")
        r = c.read_response()
    assert r.status == 200
    assert r.chunked and r.header("transfer-encoding").lower() == "chunked"
    assert r.header("content-length") is None
    assert r.body == b"part0;part1;part2;part3;part4;"
    assert httpx.get(s.url + "/stream").content == b"part0;part1;part2;part3;part4;"


def test_content_length_response_is_not_chunked(server):
    s = server(RESPONSES_APP)
    with RawConn(s.port) as c:
        c.request("GET", "/fixed")
        r = c.read_response()
    assert r.header("transfer-encoding") is None
    assert r.header("content-length") == "11"
    assert r.body == b"hello world"


@pytest.mark.parametrize("path", ["/fixed", "/stream"])
def test_head_has_no_body(server, path):
    s = server(RESPONSES_APP)
    with RawConn(s.port) as c:
        c.request("HEAD", path)
        r = c.read_response(head_request=True)
        assert r.status == 200
        # Whatever follows the head must be the next response, not a body.
        c.request("GET", "/fixed")
        nxt = c.read_response()
    assert nxt.status == 200 and nxt.body == b"hello world"


@pytest.mark.parametrize("code", [201, 404, 418, 503])
def test_status_and_headers_pass_through(server, code):
    s = server(RESPONSES_APP)
    r = httpx.get(s.url + f"/status?code={code}")
    assert r.status_code == code
    assert r.headers["x-custom"] == "custom-value"
    assert r.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert r.content == b"status body"


def expect_100_head(path: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: testserver\r\nContent-Length: 5\r\n"
            "Expect: 100-continue\r\n\r\n").encode()


def test_expect_100_continue(server):
    s = server(BODY_APP)
    with RawConn(s.port) as c:
        c.send(expect_100_head("/echo"))
        interim = c.read_response(timeout=5)
        assert (interim.version, interim.status) == ("HTTP/1.1", 100)
        c.send(b"hello")
        final = c.read_response()
    assert final.status == 200
    assert final.body == b"hello"


def test_no_100_continue_when_app_does_not_read(server):
    s = server(BODY_APP)
    with RawConn(s.port) as c:
        c.send(expect_100_head("/noread"))
        r = c.read_response(timeout=5)
    assert r.status == 200
    assert r.body == b"did not read"
