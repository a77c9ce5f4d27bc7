"""HTTP/2 with real clients (issue 9): curl, httpx, the h2 library, over
cleartext (prior knowledge and the h2c upgrade) and TLS (ALPN h2, a throwaway
CA from trustme), and what HTTP/2 gives the app: http_version "2",
concurrent streams, bodies larger than the flow-control windows both ways,
trailers, 103 Early Hints, http.disconnect on RST_STREAM, backpressure on
send(), GOAWAY on SIGTERM, WebSocket over HTTP/2 (RFC 8441).

The fixture app is apps/h2_apps.py; what it sees in the server reaches the
test through the `events` fixture.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import ssl
import struct
import subprocess
import time

import h2.events
import h2.settings
import httpx
import pytest

from h2wire import (DEFAULT_WINDOW, E, F, H2Client, RawH2, T, make_tls, ping, request_headers,
                    tree_rss, window_update)
from harness import CLEAN_EXITS

APP = "h2_apps:app"
MiB = 1024 * 1024


def pattern(n: int) -> bytes:
    """What apps/h2_apps.py's /bytes sends (the same rule, computed here)."""
    block = bytes(range(256)) * 256
    return (block * (n // len(block) + 1))[:n]


def curl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """curl, failing on HTTP errors; stdout is the body then (after a
    newline) the -w line."""
    return subprocess.run(["curl", "--silent", "--show-error", "--fail", "--max-time", "15",
                           "--noproxy", "*", *args], capture_output=True, timeout=timeout)


def curl_json_and_version(*args: str) -> tuple[dict, str]:
    out = curl("-w", "\n%{http_version}", *args)
    assert out.returncode == 0, out.stderr
    body, _, version = out.stdout.rpartition(b"\n")
    return json.loads(body), version.decode()


@pytest.fixture
def tls(tmp_path):
    return make_tls(tmp_path / "tls")


# ------------------------------------------------------------ real clients

def test_curl_prior_knowledge_is_http2_in_the_scope(server):
    s = server(APP)
    scope, version = curl_json_and_version("--http2-prior-knowledge", f"{s.url}/scope?x=1")
    assert version == "2"
    assert scope["http_version"] == "2"
    assert (scope["scheme"], scope["method"], scope["path"], scope["query_string"]) == \
        ("http", "GET", "/scope", "x=1")
    # A Host for apps that read it, from :authority.
    assert ["host", f"127.0.0.1:{s.port}"] in scope["headers"], scope["headers"]
    assert not any(name.startswith(":") for name, _ in scope["headers"]), scope["headers"]


def test_curl_h2c_upgrade_then_a_second_request_on_the_same_connection(server):
    s = server(APP)
    out = curl("--http2", "-w", "%{http_version} %{local_port}\n", "-o", "/dev/null",
               f"{s.url}/scope", "-o", "/dev/null", f"{s.url}/scope")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().split()
    versions, ports = lines[0::2], lines[1::2]
    assert versions == ["2", "2"], out.stdout  # the first request was upgraded (101)
    assert ports[0] == ports[1], "the second request did not reuse the upgraded connection"


def test_curl_h2c_upgrade_scope(server):
    s = server(APP)
    scope, version = curl_json_and_version("--http2", f"{s.url}/scope?via=upgrade")
    assert version == "2"
    # The upgraded request is stream 1 of the HTTP/2 connection.
    assert (scope["http_version"], scope["path"], scope["query_string"]) == \
        ("2", "/scope", "via=upgrade")


def test_httpx_http2_prior_knowledge(server):
    s = server(APP)
    # http1=False on a cleartext URL: httpx (httpcore) speaks HTTP/2 with prior knowledge.
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        answers = [client.get(f"{s.url}/scope") for _ in range(3)]
    for r in answers:
        assert r.status_code == 200 and r.http_version == "HTTP/2"
        assert r.json()["http_version"] == "2"
    assert len({tuple(r.json()["client"]) for r in answers}) == 1, "three connections, not one"


def test_curl_over_tls_uses_alpn_h2(server, tls):
    s = server(APP, *tls.server_flags)
    scope, version = curl_json_and_version("--cacert", str(tls.ca_pem),
                                           f"https://127.0.0.1:{s.port}/scope")
    assert version == "2"
    assert (scope["http_version"], scope["scheme"]) == ("2", "https")


def test_curl_over_tls_http1_still_served(server, tls):
    s = server(APP, *tls.server_flags)
    scope, version = curl_json_and_version("--http1.1", "--cacert", str(tls.ca_pem),
                                           f"https://127.0.0.1:{s.port}/scope")
    assert version == "1.1"
    assert (scope["http_version"], scope["scheme"]) == ("1.1", "https")


def test_curl_over_tls_refuses_an_unknown_ca(server, tls, tmp_path):
    s = server(APP, *tls.server_flags)
    other = make_tls(tmp_path / "other")
    out = curl("--cacert", str(other.ca_pem), f"https://127.0.0.1:{s.port}/scope")
    assert out.returncode == 60, (out.returncode, out.stderr)  # peer certificate not trusted


def test_httpx_http2_over_tls(server, tls):
    s = server(APP, *tls.server_flags)
    context = ssl.create_default_context(cafile=str(tls.ca_pem))
    with httpx.Client(http2=True, verify=context, timeout=10) as client:
        r = client.post(f"https://127.0.0.1:{s.port}/echo", content=b"x" * 100_000)
        r2 = client.get(f"https://127.0.0.1:{s.port}/scope")
    assert r.http_version == "HTTP/2" and r.status_code == 200
    assert r.json()["length"] == 100_000
    assert (r2.json()["http_version"], r2.json()["scheme"]) == ("2", "https")


def test_h2_library_over_tls(server, tls):
    s = server(APP, *tls.server_flags)
    with H2Client(s.port, tls=tls.client_context()) as c:
        r = c.get("/scope")
    assert r.status == 200
    assert json.loads(r.body)["scheme"] == "https"


# ---------------------------------------------------------- what the app gets

def test_ten_streams_on_one_connection_run_concurrently(server):
    s = server(APP)
    with H2Client(s.port) as c:
        t0 = time.monotonic()
        ids = [c.request("/sleep?s=1") for _ in range(10)]
        answers = [json.loads(c.response(sid, timeout=20).body) for sid in ids]
        elapsed = time.monotonic() - t0
    # Served one after the other they would take 10 s.
    assert elapsed < 3.0, f"10 streams of 1 s took {elapsed:.1f}s"
    starts = [a["started"] for a in answers]
    assert max(starts) - min(starts) < 0.8, "the apps did not start together"
    assert all(a["http_version"] == "2" for a in answers)


def test_wsgi_app_over_http2(server):
    s = server("h2_apps:wsgi_app")
    body = os.urandom(3 * MiB)
    with httpx.Client(http1=False, http2=True, timeout=20) as client:
        r = client.post(f"{s.url}/upload", content=body)
        r2 = client.get(f"{s.url}/again")
    assert r.status_code == 200 and r.http_version == "HTTP/2"
    got = r.json()
    assert got["protocol"].startswith("HTTP/2"), got
    assert (got["method"], got["path"], got["scheme"]) == ("POST", "/upload", "http")
    assert (got["length"], got["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert r2.json()["length"] == 0


def test_large_request_body_streams_through_the_windows(server):
    """8 MiB is many times any initial window: the server must reopen the
    window as the app reads, and the app gets the body in pieces."""
    s = server(APP)
    body = os.urandom(8 * MiB)
    with H2Client(s.port) as c:
        sid = c.request("/echo", method="POST", body=body)
        got = json.loads(c.response(sid, timeout=30).body)
    assert (got["length"], got["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())
    assert got["messages"] > 1


def test_streamed_request_body_from_httpx(server):
    s = server(APP)
    pieces = [os.urandom(100_000) for _ in range(20)]

    def generate():
        for piece in pieces:
            yield piece

    with httpx.Client(http1=False, http2=True, timeout=20) as client:
        r = client.post(f"{s.url}/echo", content=generate())
    whole = b"".join(pieces)
    assert r.json()["length"] == len(whole)
    assert r.json()["sha256"] == hashlib.sha256(whole).hexdigest()


def test_response_larger_than_the_windows(server):
    """The client's windows are 64 KiB: 8 MiB goes out only as it opens them."""
    s = server(APP)
    n = 8 * MiB
    with H2Client(s.port) as c:
        assert c.conn.local_settings.initial_window_size == DEFAULT_WINDOW
        r = c.get(f"/bytes?n={n}", timeout=30)
    assert r.status == 200
    assert len(r.body) == n and r.body == pattern(n)


def test_response_larger_than_the_windows_curl(server):
    s = server(APP)
    n = 5 * MiB
    out = curl("--http2-prior-knowledge", f"{s.url}/bytes?n={n}")
    assert out.returncode == 0, out.stderr
    assert hashlib.sha256(out.stdout).digest() == hashlib.sha256(pattern(n)).digest()


def test_trailers_go_out_as_a_final_headers_frame(server):
    s = server(APP)
    with RawH2(s.port) as c:
        c.request(1, "/trailers", extra=[("te", "trailers")])
        r = c.response(1)
        end_frame = [f for f in c.seen if f.stream_id == 1][-1]
    assert r.status == 200
    assert r.body == b"part one, part two"
    assert r.trailers is not None, c.seen
    assert (b"grpc-status", b"0") in r.trailers and (b"x-checksum", b"c0ffee") in r.trailers
    # The trailers end the stream: a HEADERS frame with END_STREAM after the DATA.
    assert end_frame.type == T.HEADERS and end_frame.has(F.END_STREAM), c.seen
    assert not any(k.startswith(b":") for k, _ in r.trailers)


def test_trailers_read_back_with_the_h2_library(server):
    s = server(APP)
    with H2Client(s.port) as c:
        sid = c.request("/trailers", extra=[("te", "trailers")])
        r = c.response(sid)
        kinds = [type(ev).__name__ for ev in c.events if getattr(ev, "stream_id", None) == sid]
    assert dict(r.trailers or []) == {b"grpc-status": b"0", b"x-checksum": b"c0ffee"}
    assert kinds.index("TrailersReceived") > kinds.index("DataReceived"), kinds


def test_early_hints_103_before_the_response(server):
    s = server(APP)
    with H2Client(s.port) as c:
        r = c.get("/early-hints")
    assert r.status == 200 and r.body == b"after the hints"
    assert len(r.interim) == 1, r.interim
    hints = r.interim[0]
    assert dict(hints)[b":status"] == b"103"
    links = [v for k, v in hints if k == b"link"]
    assert b"</style.css>; rel=preload; as=style" in b", ".join(links), links
    assert b"</app.js>; rel=preload; as=script" in b", ".join(links), links


def test_client_reset_stream_gives_the_app_http_disconnect(server, events):
    s = server(APP, env=events.env)
    with H2Client(s.port) as c:
        sid = c.request("/wait-disconnect?id=reset-me")
        events.wait_for("started", id="reset-me")
        c.conn.reset_stream(sid, error_code=E.CANCEL)
        c.flush()
        seen = events.wait_for("disconnect", id="reset-me")
        assert seen["message"] == "http.disconnect"
        # The connection is not harmed by one stream's reset.
        r = c.get("/scope")
    assert r.status == 200


def test_send_blocks_when_the_client_does_not_open_its_window(server, events):
    """The client reads but never sends WINDOW_UPDATE: after its 64 KiB the
    app's send() must wait (not the server buffering 256 MiB); once the
    window opens, the app goes on."""
    s = server(APP, env=events.env)
    with RawH2(s.port) as warm:  # the server's memory after it has served once
        warm.request(1, "/scope")
        warm.response(1)
    before = tree_rss(s.pid)

    def sent():
        progress = events.all("progress")
        return max((e["sent"] for e in progress), default=0)

    with RawH2(s.port) as c:
        c.request(1, "/flood?id=stall")
        got = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                f = c.read_frame(timeout=deadline - time.monotonic())
            except TimeoutError:
                break
            assert f is not None and f.type != T.RST_STREAM, c.seen[-5:]
            if f.type == T.DATA:
                got += len(f.payload)
        stalled_at = sent()
        grown = tree_rss(s.pid) - before
        assert got <= DEFAULT_WINDOW, f"{got} bytes of DATA beyond the 64 KiB window"
        assert stalled_at < 16 * MiB, f"send() took {stalled_at} bytes with the window closed"
        assert grown < 64 * MiB, f"the server grew {grown / MiB:.0f} MiB for one stalled stream"
        # Open the windows: the app is let go on.
        c.send(window_update(0, 64 * MiB) + window_update(1, 64 * MiB))
        deadline = time.monotonic() + 10
        while sent() < stalled_at + 8 * MiB and time.monotonic() < deadline:
            try:
                c.read_frame(timeout=0.2)
            except TimeoutError:
                pass
        assert sent() >= stalled_at + 8 * MiB, "send() did not resume when the window opened"


LAST_POSSIBLE_STREAM = 2**31 - 1


def test_goaway_on_sigterm_lets_the_stream_in_flight_finish(server, events):
    # Raw frames: the h2 library takes no frame after a GOAWAY, which is
    # exactly what a graceful shutdown sends next.
    s = server(APP, env=events.env)
    with RawH2(s.port) as c:
        c.request(1, "/slow-finish?s=2&id=inflight")
        events.wait_for("started", id="inflight")
        s.terminate()
        goaway = c.wait_for(lambda f: f.type == T.GOAWAY or (f.stream_id == 1 and
                                                             f.has(F.END_STREAM)),
                            timeout=5, what="GOAWAY")
        assert goaway.type == T.GOAWAY, f"the stream ended before any GOAWAY: {c.seen}"
        assert goaway.error_code == E.NO_ERROR and goaway.last_stream_id >= 1, goaway
        c.frames_until_close(timeout=15)
        body = b"".join(f.payload for f in c.seen if f.type == T.DATA and f.stream_id == 1)
        ended = [f for f in c.seen if f.stream_id == 1 and f.has(F.END_STREAM)]
    assert body == b"begun and finished inflight" and ended, c.seen
    assert s.wait(15) in CLEAN_EXITS


def test_new_streams_after_goaway_are_not_served(server, events):
    s = server(APP, env=events.env)
    with RawH2(s.port) as c:
        c.request(1, "/slow-finish?s=2&id=first")
        events.wait_for("started", id="first")
        s.terminate()
        # RFC 9113 6.8's graceful shutdown: a GOAWAY naming the highest id,
        # and a PING; once the client has answered it, every stream it
        # opened before it saw the GOAWAY has arrived, and the final GOAWAY
        # names the last one taken. Streams opened after that are not served.
        first = c.wait_for(lambda f: f.type == T.GOAWAY, timeout=5, what="GOAWAY")
        assert first.error_code == E.NO_ERROR, first
        def shutdown_ping(f):
            return f.type == T.PING and not f.has(F.ACK)
        # nghttp2 sends a PING ahead of a GOAWAY queued with it.
        probe = next((f for f in c.seen if shutdown_ping(f)), None) or \
            c.wait_for(shutdown_ping, timeout=5, what="the shutdown PING")
        c.send(ping(probe.payload, ack=True))
        final = c.wait_for(lambda f: f.type == T.GOAWAY and f.last_stream_id < LAST_POSSIBLE_STREAM,
                           timeout=5, what="the final GOAWAY")
        assert final.error_code == E.NO_ERROR and final.last_stream_id == 1, final
        c.try_send(c.headers(3, request_headers("/slow-finish?s=0&id=late")))
        c.frames_until_close(timeout=15)
        body = b"".join(f.payload for f in c.seen if f.type == T.DATA and f.stream_id == 1)
        ended = [f for f in c.seen if f.stream_id == 1 and f.has(F.END_STREAM)]
        late = [f for f in c.seen if f.stream_id == 3]
    assert body == b"begun and finished first" and ended, c.seen
    # Stream 3 came after the final GOAWAY: refused, or left unanswered (the client may retry it).
    assert all(f.type == T.RST_STREAM for f in late), late
    assert all(e["id"] != "late" for e in events.all("started"))
    assert s.wait(15) in CLEAN_EXITS


def test_goaway_on_reload_lets_the_stream_in_flight_finish(server, events):
    """SIGHUP replaces the worker: its HTTP/2 connections get GOAWAY, the
    stream in flight finishes on the old code, new connections reach the new."""
    s = server(APP, env=events.env)
    with RawH2(s.port) as c:
        c.request(1, "/slow-finish?s=2&id=reload")
        events.wait_for("started", id="reload")
        os.kill(s.pid, signal.SIGHUP)
        goaway = c.wait_for(lambda f: f.type == T.GOAWAY or (f.stream_id == 1 and
                                                             f.has(F.END_STREAM)),
                            timeout=10, what="GOAWAY")
        assert goaway.type == T.GOAWAY and goaway.error_code == E.NO_ERROR, c.seen
        c.frames_until_close(timeout=15)
        body = b"".join(f.payload for f in c.seen if f.type == T.DATA and f.stream_id == 1)
    assert body == b"begun and finished reload", c.seen
    with RawH2(s.port) as again:  # the new generation serves
        again.request(1, "/scope")
        assert again.response(1).status == 200


# --------------------------------------------------- WebSocket over HTTP/2

def ws_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client's (masked) WebSocket frame."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_parse(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The server's (unmasked) frames in buf, and what is left over."""
    frames = []
    while len(buf) >= 2:
        opcode, n, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
        assert not buf[1] & 0x80, "a server frame must not be masked"
        if n == 126:
            if len(buf) < 4:
                break
            n, at = struct.unpack(">H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, at = struct.unpack(">Q", buf[2:10])[0], 10
        if len(buf) < at + n:
            break
        frames.append((opcode, buf[at:at + n]))
        buf = buf[at + n:]
    return frames, buf


def test_websocket_over_http2_echo_and_close(server, events):
    s = server(APP, env=events.env)
    with H2Client(s.port) as c:
        c.wait_for(lambda ev: isinstance(ev, h2.events.RemoteSettingsChanged),
                   what="the server's SETTINGS")
        assert c.conn.remote_settings.enable_connect_protocol == 1, \
            "SETTINGS_ENABLE_CONNECT_PROTOCOL not offered (RFC 8441)"
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(b":method", b"CONNECT"), (b":protocol", b"websocket"),
                                  (b":scheme", b"http"), (b":path", b"/chat"),
                                  (b":authority", b"testserver"),
                                  (b"sec-websocket-version", b"13")])
        c.flush()
        accepted = c.wait_for(lambda ev: isinstance(ev, h2.events.ResponseReceived)
                              and ev.stream_id == sid, what="the CONNECT's response")
        assert dict(accepted.headers)[b":status"] == b"200", accepted.headers

        buf = b""
        received: list[tuple[int, bytes]] = []

        def exchange(frame: bytes, want: int) -> None:
            nonlocal buf
            c.send_body(sid, frame, end_stream=False)
            deadline = time.monotonic() + 5
            while len(received) < want:
                assert time.monotonic() < deadline, (received, c.events[-5:])
                for ev in c.pump(deadline - time.monotonic()):
                    if isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                        c.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                        frames, buf = ws_parse(buf + ev.data)
                        received.extend(frames)
                    assert not isinstance(ev, h2.events.StreamReset), ev
                c.flush()

        exchange(ws_frame(0x1, "héllo h2".encode()), 1)
        exchange(ws_frame(0x2, bytes(range(256)) * 300), 2)  # 76800 bytes: above one window
        exchange(ws_frame(0x1, b"close"), 3)
        assert received[0] == (0x1, "héllo h2".encode())
        assert received[1] == (0x2, bytes(range(256)) * 300)
        opcode, payload = received[2]
        assert opcode == 0x8 and struct.unpack(">H", payload[:2])[0] == 4005 and payload[2:] == b"bye"
        # Our close in answer; the stream ends.
        c.send_body(sid, ws_frame(0x8, payload[:2]))
        c.wait_for(lambda ev: isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset))
                   and ev.stream_id == sid, what="the stream's end")
    seen = events.wait_for("ws_connect", path="/chat")
    assert seen["http_version"] == "2"
    events.wait_for("ws_closed_by_app")
