"""The ASGI HTTP scope the server builds for each request (apps/echo_scope.py)."""

import json
import re

import httpx
import pytest

from harness import RawConn

APP = "echo_scope:app"


def scope_of(server, raw_request: bytes) -> tuple[dict, int]:
    """Sends one raw request; returns the echoed scope and the client's port."""
    with RawConn(server.port) as c:
        c.send(raw_request)
        r = c.read_response()
        client_port = c.local_port
    assert r.status == 200, r
    return json.loads(r.body), client_port


def test_http_scope_fields(server):
    s = server(APP)
    scope, client_port = scope_of(s, b"GET /a%20b?x=1&y=%20z HTTP/1.1\r\nHost: testserver\r\n"
                              b"X-Foo: a\r\nX-Bar: B-Value\r\nx-FOO: c\r\nConnection: close\r\n\r\n")
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert re.fullmatch(r"2\.\d+", scope["asgi"]["spec_version"]), scope["asgi"]
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/a b"
    assert scope["raw_path"] == "/a%20b"
    assert scope["query_string"] == "x=1&y=%20z"
    assert scope["root_path"] == ""
    # Names lowercased, values untouched, order and repeats kept.
    assert scope["headers"] == [["host", "testserver"], ["x-foo", "a"], ["x-bar", "B-Value"],
                                ["x-foo", "c"], ["connection", "close"]]
    assert scope["client"] == ["127.0.0.1", client_port]
    assert scope["server"] == ["127.0.0.1", s.port]


def test_state_from_lifespan_startup(server):
    s = server(APP)
    scope = s.get_json("/")
    assert scope["state_is_dict"] is True
    assert scope["state"] == {"greeting": "hello-from-lifespan"}


def test_encoded_slash_decoded_in_path_kept_in_raw_path(server):
    s = server(APP)
    scope = s.get_json("/a%2Fb/%C3%A9")
    assert scope["path"] == "/a/b/é"
    assert scope["raw_path"] == "/a%2Fb/%C3%A9"


def test_http_10_request(server):
    s = server(APP)
    scope, _ = scope_of(s, b"GET /ten HTTP/1.0\r\nHost: testserver\r\n\r\n")
    assert scope["http_version"] == "1.0"
    assert scope["path"] == "/ten"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_method(server, method):
    s = server(APP)
    r = httpx.request(method, s.url + "/m", content=b"payload" if method != "OPTIONS" else None)
    assert r.status_code == 200
    assert r.json()["method"] == method


def test_root_path(server):
    # As in the ASGI spec (and uvicorn): root_path is the mount point and path
    # is the full path, including it.
    s = server(APP, "--root-path", "/api")
    scope = s.get_json("/x")
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/x"
