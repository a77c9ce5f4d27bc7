"""WebSocket over ASGI (spec 2.4+, RFC 6455): handshake, scope, accept and
denial, app errors, limits (uvicorn's --ws-* flags and their meaning),
backpressure, shutdown, WSGI and both process modes.

Fixture apps: apps/ws_echo.py (plain ASGI, a behaviour per path),
apps/ws_starlette.py, apps/ws_wsgi.py. What an app observed is read back from
the JSON lines file named by WS_EVENTS (apps/ws_events.py). The `websockets`
library is the client where it can be; a raw socket (RawWebSocket) where the
test needs what a library hides: never answering pings, leaving without a
close frame, not reading, a precise write count.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import threading
import time
from urllib.parse import quote

import psutil
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from harness import CLEAN_EXITS, IS_UVICORN, AppEvents, IncompleteResponse, RawConn, Response

APP = "ws_echo:app"
STARLETTE_APP = "ws_starlette:app"
WSGI_APP = "ws_wsgi:app"
MiB = 1 << 20

# Close codes (RFC 6455 section 7.4.1)
GOING_AWAY = 1001
ABNORMAL = 1006
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011

# Opcodes (RFC 6455 section 5.2)
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


# ---------------------------------------------------------------- helpers

def connect(server, path: str = "/echo", **options):
    """A `websockets` client connection. Its own keepalive pings are off, so
    only the server's pings are in play."""
    options.setdefault("ping_interval", None)
    options.setdefault("open_timeout", 5)
    options.setdefault("close_timeout", 5)
    return ws_connect(f"ws://127.0.0.1:{server.port}{path}", **options)


def closed_by_server(ws, timeout: float = 5.0) -> ConnectionClosed:
    """Waits for the server to close; the exception carries the close frame it sent."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            ws.recv(timeout=timeout)
    return info.value


def upgrade_request(path: str, *, version: str | None = "13", key: str | None = None,
                    extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A WebSocket handshake request; version=None or key="" leave the header out."""
    headers = [("Host", "testserver"), ("Upgrade", "websocket"), ("Connection", "Upgrade")]
    if key != "":
        headers.append(("Sec-WebSocket-Key", key or base64.b64encode(os.urandom(16)).decode()))
    if version is not None:
        headers.append(("Sec-WebSocket-Version", version))
    headers += extra
    lines = [f"GET {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def upgrade_answer(server, path: str, **request) -> Response:
    """The server's answer to a raw handshake request (upgrade_request's options)."""
    with RawConn(server.port) as c:
        c.send(upgrade_request(path, **request))
        return c.read_response()


def client_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A masked client frame, unfragmented (RFC 6455 section 5.2)."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    key = os.urandom(4)
    keystream = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big")
    return head + key + masked


class RawWebSocket:
    """A WebSocket client on a raw socket (harness.RawConn), frames by hand."""

    def __init__(self, port: int, path: str = "/echo"):
        self.conn = RawConn(port)
        self.conn.send(upgrade_request(path))
        r = self.conn.read_response()
        assert r.status == 101, r

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()

    @property
    def sock(self) -> socket.socket:
        return self.conn.sock

    def send(self, opcode: int, payload: bytes = b"") -> None:
        self.conn.send(client_frame(opcode, payload))

    def read_frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame; IncompleteResponse at end of stream."""
        b0, b1 = self.conn.read_exactly(2, timeout)
        assert not b1 & 0x80, "a server frame must not be masked"
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self.conn.read_exactly(2, timeout), "big")
        elif n == 127:
            n = int.from_bytes(self.conn.read_exactly(8, timeout), "big")
        return b0 & 0x0F, self.conn.read_exactly(n, timeout)


# ---------------------------------------------------------------- handshake and messages

@pytest.mark.parametrize("app", [APP, STARLETTE_APP])
def test_text_and_bytes_echo(server, app):
    s = server(app)
    with connect(s) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        ws.send(b"\x00\x01\xfe\xff")
        assert ws.recv(timeout=5) == b"\x00\x01\xfe\xff"
        big = "é" * 100_000  # 200 KB of UTF-8: more than one read
        ws.send(big)
        assert ws.recv(timeout=5) == big


@pytest.mark.parametrize("app", [APP, STARLETTE_APP])
def test_client_close_code_and_reason_reach_the_app(server, events, app):
    s = server(app, env=events.env)
    with connect(s) as ws:
        ws.send("x")
        ws.recv(timeout=5)
        ws.close(4000, "bye")
        # The server answers the close frame with the same code (RFC 6455 5.5.1).
        assert ws.close_code == 4000
    seen = events.wait_for("disconnect", path="/echo")
    assert (seen["code"], seen["reason"]) == (4000, "bye")


@pytest.mark.parametrize("app", [APP, STARLETTE_APP])
def test_app_close_code_and_reason_reach_the_client(server, events, app):
    s = server(app, env=events.env)
    with connect(s) as ws:
        ws.send("close-me")
        closed = closed_by_server(ws)
    assert closed.rcvd is not None, closed
    assert (closed.rcvd.code, closed.rcvd.reason) == (4001, "done")
    events.wait_for("app_closed")


def test_unsupported_version_gets_426_naming_13(server):
    s = server(APP)
    r = upgrade_answer(s, "/echo", version="8")
    assert r.status == 426, r
    assert [v.strip() for v in (r.header("sec-websocket-version") or "").split(",")] == ["13"], r


def test_missing_key_gets_400(server):
    s = server(APP)
    r = upgrade_answer(s, "/echo", key="")
    assert r.status == 400, r


# ---------------------------------------------------------------- scope

def test_websocket_scope(server):
    s = server(APP)
    with connect(s, "/scope/a%20b?x=1&y=%20z", subprotocols=["chat", "superchat"],
                 additional_headers={"X-Foo": "Bar-Value"}) as ws:
        scope = json.loads(ws.recv(timeout=5))
        client_port = ws.local_address[1]
    assert scope["type"] == "websocket"
    assert scope["asgi"]["version"] == "3.0"
    major, minor = scope["asgi"]["spec_version"].split(".")
    assert (int(major), int(minor)) >= (2, 4), scope["asgi"]  # 2.4: send() on a closed socket raises
    assert scope["scheme"] == "ws"
    assert scope["http_version"] == "1.1"
    assert scope["path"] == "/scope/a b"
    assert scope["raw_path"] == "/scope/a%20b"
    assert scope["query_string"] == "x=1&y=%20z"
    assert scope["root_path"] == ""
    headers = scope["headers"]
    assert all(name == name.lower() for name, _ in headers), headers
    for header in (["x-foo", "Bar-Value"], ["upgrade", "websocket"], ["sec-websocket-version", "13"],
                   ["host", f"127.0.0.1:{s.port}"], ["sec-websocket-protocol", "chat, superchat"]):
        assert header in headers, (header, headers)
    assert scope["subprotocols"] == ["chat", "superchat"]
    assert scope["client"] == ["127.0.0.1", client_port]
    assert scope["server"] == ["127.0.0.1", s.port]
    assert scope["state"] == {"greeting": "hello-from-lifespan"}
    assert "websocket.http.response" in scope["extensions"], scope.get("extensions")


def test_websocket_scope_root_path(server):
    # As for HTTP (test_scope.test_root_path): path includes the mount point.
    s = server(APP, "--root-path", "/api")
    with connect(s, "/scope") as ws:
        scope = json.loads(ws.recv(timeout=5))
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/scope"


def test_state_is_a_copy_per_connection(server):
    # /scope changes its scope's state after answering; the next connection
    # must not see that (the spec: "a copy of the namespace" from lifespan).
    s = server(APP)
    for _ in range(2):
        with connect(s, "/scope") as ws:
            assert json.loads(ws.recv(timeout=5))["state"] == {"greeting": "hello-from-lifespan"}


# ---------------------------------------------------------------- accept, deny, errors

def test_accept_with_subprotocol_and_headers(server):
    s = server(APP)
    with connect(s, "/accept-extras", subprotocols=["one", "two"]) as ws:
        assert ws.subprotocol == "two"
        assert ws.response.headers["x-ws-extra"] == "yes"
        assert "ws=1" in ws.response.headers.get_all("set-cookie")
        ws.send("still works")
        assert ws.recv(timeout=5) == "still works"


def test_close_before_accept_is_403(server):
    s = server(APP)
    with pytest.raises(InvalidStatus) as info:
        connect(s, "/deny")
    assert info.value.response.status_code == 403


def test_denial_response_extension(server):
    s = server(APP)
    r = upgrade_answer(s, "/deny-response")
    assert r.status == 401, r
    assert r.header("x-denied") == "yes"
    assert r.body == b"no entry"


def test_exception_before_accept_is_500_and_the_next_connection_is_served(server):
    s = server(APP)
    with pytest.raises(InvalidStatus) as info:
        connect(s, "/raise-before-accept")
    assert info.value.response.status_code == 500
    with connect(s) as ws:
        ws.send("next")
        assert ws.recv(timeout=5) == "next"


def test_exception_after_accept_closes_1011_and_the_next_connection_is_served(server):
    s = server(APP)
    with connect(s, "/raise-after-accept") as ws:
        ws.send("go")
        closed = closed_by_server(ws)
    assert closed.rcvd is not None and closed.rcvd.code == INTERNAL_ERROR, closed
    with connect(s) as ws:
        ws.send("next")
        assert ws.recv(timeout=5) == "next"


def test_send_after_client_disconnect_raises_oserror(server, events):
    # ASGI 2.4: "If send() is called on a closed connection the server should
    # raise a server-specific subclass of OSError"; after websocket.disconnect
    # "you should expect future calls to send() to raise" it.
    s = server(APP, env=events.env)
    with connect(s, "/send-after-disconnect") as ws:
        ws.close(1000)
    seen = events.wait_for("send_after_disconnect")
    assert seen["raised"] is not None and seen["raised"]["is_oserror"], seen


def test_send_after_app_close_raises(server, events):
    # A send after the app's own websocket.close is the app's mistake:
    # OSError (the socket is closed) or RuntimeError (the protocol) both say so.
    s = server(APP, env=events.env)
    with connect(s, "/send-after-close") as ws:
        closed = closed_by_server(ws)
    assert closed.rcvd is not None and closed.rcvd.code == 1000
    seen = events.wait_for("send_after_close")
    raised = seen["raised"]
    assert raised is not None and (raised["is_oserror"] or raised["is_runtimeerror"]), seen


def test_client_gone_without_close_frame_is_1006(server, events):
    s = server(APP, env=events.env)
    with RawWebSocket(s.port) as ws:
        ws.send(OP_TEXT, b"hi")
        assert ws.read_frame() == (OP_TEXT, b"hi")
    seen = events.wait_for("disconnect", path="/echo")
    assert seen["code"] == ABNORMAL


# ---------------------------------------------------------------- limits

def test_max_size(server):
    s = server(APP, "--ws-max-size", "1024")
    with connect(s) as ws:
        ws.send(b"a" * 1024)  # at the limit: fine
        assert ws.recv(timeout=5) == b"a" * 1024
        ws.send(b"a" * 1025)
        closed = closed_by_server(ws)
    assert closed.rcvd is not None and closed.rcvd.code == MESSAGE_TOO_BIG, closed


def test_max_size_counts_the_whole_fragmented_message(server):
    s = server(APP, "--ws-max-size", "1024")
    with connect(s) as ws:
        ws.send([b"a" * 600, b"b" * 600])  # two frames, each under the limit
        closed = closed_by_server(ws)
    assert closed.rcvd is not None and closed.rcvd.code == MESSAGE_TOO_BIG, closed


PING_INTERVAL = 1.0
PING_TIMEOUT = 1.0
PING_FLAGS = ("--ws-ping-interval", str(PING_INTERVAL), "--ws-ping-timeout", str(PING_TIMEOUT))


def test_client_that_never_answers_pings_is_closed(server, events):
    s = server(APP, *PING_FLAGS, env=events.env)
    with RawWebSocket(s.port) as ws:
        t0 = time.monotonic()
        pings = 0
        with pytest.raises(IncompleteResponse):
            while True:  # read everything, answer nothing, until the server hangs up
                opcode, _ = ws.read_frame(timeout=PING_INTERVAL + PING_TIMEOUT + 5)
                pings += opcode == OP_PING
        elapsed = time.monotonic() - t0
    assert pings >= 1
    # One interval to the first ping, one timeout for its pong, and slack for
    # a loaded machine (and a server timer that ticks once a second).
    assert elapsed <= PING_INTERVAL + PING_TIMEOUT + 2, elapsed
    events.wait_for("disconnect", path="/echo")


@pytest.mark.subcorn_only
def test_client_that_never_answers_the_servers_close_is_cut_off(server):
    # The app closes; a client that never sends its Close back must not hold
    # the connection: the server waits 5 s for it (docs/websocket.md), then
    # closes TCP. (uvicorn's websockets waits 10 s.)
    s = server(APP)
    with RawWebSocket(s.port) as ws:
        ws.send(OP_TEXT, b"close-me")
        opcode, payload = ws.read_frame()
        assert opcode == OP_CLOSE and payload[:2] == (4001).to_bytes(2, "big"), payload
        t0 = time.monotonic()
        with pytest.raises(IncompleteResponse):
            ws.read_frame(timeout=15)
        elapsed = time.monotonic() - t0
    assert 4 <= elapsed <= 7.5, elapsed


def test_client_that_answers_pings_stays_open(server):
    s = server(APP, *PING_FLAGS)
    with RawWebSocket(s.port) as ws:
        pings = 0
        stay = 3 * (PING_INTERVAL + PING_TIMEOUT)
        deadline = time.monotonic() + stay
        while (left := deadline - time.monotonic()) > 0:
            try:
                opcode, payload = ws.read_frame(timeout=left)
            except TimeoutError:
                break
            assert opcode == OP_PING, (opcode, payload)
            pings += 1
            ws.send(OP_PONG, payload)
        assert pings >= 2
        ws.send(OP_TEXT, b"alive")
        while (frame := ws.read_frame())[0] == OP_PING:  # a ping may come first
            ws.send(OP_PONG, frame[1])
        assert frame == (OP_TEXT, b"alive")


@pytest.mark.parametrize("flags, negotiated", [
    ((), True),  # uvicorn's default: on
    (("--ws-per-message-deflate", "true"), True),
    (("--ws-per-message-deflate", "false"), False),
])
def test_per_message_deflate(server, flags, negotiated):
    s = server(APP, *flags)
    with connect(s, compression="deflate") as ws:  # the client offers it
        extensions = ws.response.headers.get("sec-websocket-extensions") or ""
        assert ("permessage-deflate" in extensions) == negotiated, ws.response.headers
        text = "compress me " * 10_000
        ws.send(text)
        assert ws.recv(timeout=5) == text
        ws.send(b"\x00" * 70_000)
        assert ws.recv(timeout=5) == b"\x00" * 70_000


def test_ws_none_serves_an_upgrade_request_as_http(server):
    s = server(APP, "--ws", "none")
    r = upgrade_answer(s, "/plain")
    assert r.status == 200, r
    seen = json.loads(r.body)
    assert seen["type"] == "http"
    assert ["upgrade", "websocket"] in seen["headers"]


QUEUE_MESSAGE = MiB
QUEUE_MESSAGES = 48


@pytest.mark.parametrize("flags, most_accepted", [
    (("--ws-max-queue", "1"), 16),  # 1 queued + 1 being read + the kernel's buffers
    ((), None),  # uvicorn's default, 32 messages: at least that many go in
])
def test_max_queue_bounds_what_the_server_reads_ahead(server, tmp_path, flags, most_accepted):
    # The app reads nothing until released; the server reads messages ahead
    # only up to --ws-max-queue, then stops reading the socket, and the
    # client's writes block. After the release every message arrives whole.
    s = server(APP, *flags)
    release = tmp_path / "release"
    frame = client_frame(OP_BINARY, os.urandom(QUEUE_MESSAGE))
    with RawWebSocket(s.port, f"/read-after-release?release={quote(str(release))}") as ws:
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
        written = []

        def write_all():
            for _ in range(QUEUE_MESSAGES):
                ws.conn.send(frame)
                written.append(1)

        writer = threading.Thread(target=write_all, daemon=True)
        writer.start()
        try:
            # Until the writer has been blocked for a second (or is done).
            last, since = -1, time.monotonic()
            while writer.is_alive() and time.monotonic() - since < 1.0:
                if len(written) != last:
                    last, since = len(written), time.monotonic()
                time.sleep(0.05)
            accepted = len(written)
            print(f"client wrote {accepted} of {QUEUE_MESSAGES} 1 MiB messages before blocking")
            if most_accepted is None:
                assert accepted >= 32, accepted
            else:
                assert accepted <= most_accepted, accepted
                assert writer.is_alive()
        finally:
            release.touch()  # even after a failure, or the app waits forever
        writer.join(30)
        assert not writer.is_alive()
        ws.send(OP_TEXT, b"end")
        opcode, payload = ws.read_frame(timeout=10)
    assert opcode == OP_TEXT
    assert json.loads(payload) == {"messages": QUEUE_MESSAGES, "bytes": QUEUE_MESSAGES * QUEUE_MESSAGE}


# ---------------------------------------------------------------- backpressure

def tree_rss(pid: int) -> int:
    """Resident memory of a process and its children (subcorn's supervisor
    runs the engine in a child), in bytes."""
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def last_flood_count(events: AppEvents) -> int:
    counts = [e["sent"] for e in events.all("flood")]
    return counts[-1] if counts else 0


def test_client_that_stops_reading_makes_send_wait(server, events):
    s = server(APP, env=events.env)
    rss_before = tree_rss(s.pid)
    with RawWebSocket(s.port, "/flood") as ws:
        # Read nothing: the app's 1 KiB sends must stop once the buffers are
        # full. Wait for the count to stand still for a second and a half.
        deadline = time.monotonic() + 20
        last, since = -1, time.monotonic()
        while time.monotonic() - since < 1.5:
            assert time.monotonic() < deadline, f"send() never waited: {last_flood_count(events)} sent"
            if (count := last_flood_count(events)) != last:
                last, since = count, time.monotonic()
            time.sleep(0.1)
        stalled_at = last
        assert stalled_at * 1024 < 64 * MiB, stalled_at
        time.sleep(2)
        assert last_flood_count(events) == stalled_at
        grown = tree_rss(s.pid) - rss_before
        print(f"send() stalled after {stalled_at} messages; server grew {grown / MiB:.1f} MiB")
        assert grown < 64 * MiB, f"server grew {grown / MiB:.1f} MiB"
        # Reading again lets send() go on: the app was waiting, not dead.
        deadline = time.monotonic() + 10
        while last_flood_count(events) <= stalled_at + 1024:
            assert time.monotonic() < deadline, "send() did not resume"
            ws.sock.settimeout(1)
            ws.sock.recv(1 << 20)


# ---------------------------------------------------------------- shutdown

def test_sigterm_closes_an_open_websocket_with_1001(server, events):
    grace = 3
    s = server(APP, "--timeout-graceful-shutdown", str(grace), env=events.env)
    with connect(s) as ws:
        ws.send("before")
        assert ws.recv(timeout=5) == "before"
        t0 = time.monotonic()
        s.terminate()
        closed = closed_by_server(ws, timeout=grace + 5)
        elapsed = time.monotonic() - t0
    assert closed.rcvd is not None and closed.rcvd.code == GOING_AWAY, closed
    assert elapsed <= grace + 1, elapsed
    events.wait_for("disconnect", path="/echo")
    assert s.wait(grace + 10) in CLEAN_EXITS, s.describe()


SERVICE_RESTART = 1012


@pytest.mark.subcorn_only
@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_reload_closes_an_open_websocket_with_1012(server, events, mode):
    s = server(APP, "--mode", mode, env=events.env)
    with connect(s) as ws:
        ws.send("before")
        assert ws.recv(timeout=5) == "before"
        os.kill(s.pid, signal.SIGHUP)
        closed = closed_by_server(ws, timeout=20)
    assert closed.rcvd is not None and closed.rcvd.code == SERVICE_RESTART, closed
    events.wait_for("disconnect", path="/echo")
    with connect(s) as ws:  # the new generation serves
        ws.send("after")
        assert ws.recv(timeout=5) == "after"


@pytest.mark.subcorn_only
def test_recycled_interpreter_closes_its_websockets_with_1012(server, events):
    # --max-requests counts WebSocket connections too: the second one retires
    # the interpreter, and the first, still open, is told the service restarts.
    s = server(APP, "--max-requests", "2", env=events.env)
    with connect(s) as first:
        first.send("one")
        assert first.recv(timeout=5) == "one"
        with connect(s) as second:
            second.send("two")
            assert second.recv(timeout=5) == "two"
            closed = closed_by_server(first, timeout=20)
    assert closed.rcvd is not None and closed.rcvd.code == SERVICE_RESTART, closed


def test_an_app_slow_to_accept_is_not_timed_out_as_a_request(server):
    # The handshake request is whole: --timeout-request-body (a stalled
    # request body) must not answer 408 while the app takes its time.
    s = server(APP, "--timeout-request-body", "1")
    with connect(s, "/slow-accept?seconds=2.5") as ws:
        ws.send("late")
        assert ws.recv(timeout=5) == "late"


# ---------------------------------------------------------------- WSGI

def test_wsgi_app_gets_an_upgrade_request_as_a_plain_request(server):
    s = server(WSGI_APP, "--interface", "wsgi")
    r = upgrade_answer(s, "/chat")
    assert r.status == 200, r
    seen = json.loads(r.body)
    assert seen["method"] == "GET" and seen["path"] == "/chat"
    assert seen["upgrade"] == "websocket"


# ---------------------------------------------------------------- modes

@pytest.mark.parametrize("mode", ["processes", "interpreters"])
def test_websockets_in_both_modes_with_two_workers(server, mode):
    # uvicorn has no --mode (its workers are processes): it checks the test.
    s = server(APP, *([] if IS_UVICORN else ["--mode", mode]), workers=2)
    workers = set()
    deadline = time.monotonic() + 15
    with contextlib.ExitStack() as open_sockets:
        # Keep each connection open, so the next one goes to the other worker
        # where the server balances by connection count.
        while len(workers) < 2 and time.monotonic() < deadline:
            ws = open_sockets.enter_context(connect(s))
            ws.send("whoami")
            workers.add(ws.recv(timeout=5))
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
    assert len(workers) == 2, workers
    pids = {w.split(":")[0] for w in workers}
    if not IS_UVICORN:
        assert len(pids) == (2 if mode == "processes" else 1), workers
