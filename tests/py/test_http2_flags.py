"""The HTTP/2 flags (--http, --http2-*) and the request limits applied per
stream, against the real server (docs/http2.md, docs/limits.md)."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from h2wire import PREFACE, E, F, RawH2, S, T, data, make_tls, ping, request_headers
from harness import STARTUP_FAILURE_EXIT, run_failing

pytestmark = pytest.mark.subcorn_only

APP = "h2_apps:app"


def raw_exchange(port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    """Sends `payload`, returns everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    return got


def curl_version(url: str, *flags: str) -> str:
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_version}", *flags, url],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return out.stdout


# ------------------------------------------------------------------- --http

def test_http_1_serves_http11_only(server):
    s = server(APP, "--http", "1")
    # The preface is not taken as HTTP/2: it is a bad HTTP/1.1 request.
    got = raw_exchange(s.port, PREFACE)
    assert got.startswith(b"HTTP/1.1 4") or got.startswith(b"HTTP/1.1 5"), got[:100]
    # An h2c upgrade is not taken either: the request is answered over HTTP/1.1.
    assert curl_version(f"{s.url}/scope", "--http2") == "1.1"
    assert curl_version(f"{s.url}/scope") == "1.1"


def test_http_2_serves_http2_only(server):
    s = server(APP, "--http", "2")
    assert curl_version(f"{s.url}/scope", "--http2-prior-knowledge") == "2"
    got = raw_exchange(s.port, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 505 "), got[:100]


def test_http_auto_serves_both_and_the_h2c_upgrade(server):
    s = server(APP)
    assert curl_version(f"{s.url}/scope") == "1.1"
    assert curl_version(f"{s.url}/scope", "--http2-prior-knowledge") == "2"
    assert curl_version(f"{s.url}/scope", "--http2") == "2"


@pytest.mark.parametrize("mode, versions", [("1", ["1.1"]), ("2", ["2"]), ("auto", ["2", "1.1"])])
def test_alpn_offers_what_http_serves(server, tmp_path, mode, versions):
    tls = make_tls(tmp_path)
    s = server(APP, "--http", mode, *tls.server_flags)
    url = f"https://127.0.0.1:{s.port}/scope"
    # curl offers h2 and http/1.1; with --http1.1 only http/1.1.
    assert curl_version(url, "--cacert", str(tls.ca_pem)) == versions[0]
    if "1.1" in versions:
        assert curl_version(url, "--cacert", str(tls.ca_pem), "--http1.1") == "1.1"
    else:
        out = subprocess.run(["curl", "-sS", "--cacert", str(tls.ca_pem), "--http1.1", url],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode != 0  # no protocol in common: the handshake fails


# --------------------------------------------------------------- --http2-*

def test_settings_carry_the_flags(server):
    s = server(APP, "--http2-max-concurrent-streams", "7", "--http2-initial-window-size", "100000",
               "--http2-max-header-list-size", "4096")
    with RawH2(s.port) as c:
        assert c.server_settings.get(S.MAX_CONCURRENT_STREAMS) == 7
        assert c.server_settings.get(S.INITIAL_WINDOW_SIZE) == 100000
        assert c.server_settings.get(S.MAX_HEADER_LIST_SIZE) == 4096
        c.request(1, "/scope")
        assert c.response(1).status == 200


def test_header_list_above_the_limit_gets_431(server):
    s = server(APP, "--http2-max-header-list-size", "4096")
    with RawH2(s.port) as c:
        big = [(f"x-filler-{i}", "v" * 200) for i in range(30)]  # ~7 KiB decoded
        c.request(1, "/scope", extra=big)
        f = c.wait_for(lambda f: f.stream_id == 1 and f.type in (T.HEADERS, T.RST_STREAM),
                       what="the answer to stream 1")
        assert f.type == T.HEADERS and f.header(b":status") == b"431", f
        c.request(3, "/scope")
        assert c.response(3).status == 200  # the connection goes on


def test_stream_window_opens_as_the_app_reads(server):
    """The client may send the stream's window and no more; the server gives
    it back as the app reads (WINDOW_UPDATE on the stream), so a 200 KB body
    goes through a 16 KiB window."""
    s = server(APP, "--http2-initial-window-size", "16384")
    body = b"x" * 200_000
    with RawH2(s.port) as c:
        assert c.server_settings.get(S.INITIAL_WINDOW_SIZE) == 16384
        c.send(c.headers(1, request_headers("/echo", "POST"), end_stream=False))
        window, sent, credited = 16384, 0, 0
        while sent < len(body):
            if window == 0:
                f = c.wait_for(lambda f: f.type == T.WINDOW_UPDATE and f.stream_id == 1,
                               timeout=5, what="the stream's window reopened")
                increment = int.from_bytes(f.payload[:4], "big") & 0x7FFFFFFF
                window += increment
                credited += increment
                continue
            n = min(window, len(body) - sent, 16384)
            c.send(data(1, body[sent:sent + n], end_stream=sent + n == len(body)))
            sent += n
            window -= n
        r = c.response(1, timeout=10)
    assert r.status == 200 and b"200000" in r.body, r.body
    assert credited >= len(body) - 16384


def test_keep_alive_interval_pings_and_closes_a_silent_client(server):
    s = server(APP, "--http2-keep-alive-interval", "1")
    with RawH2(s.port) as c:
        started = time.monotonic()
        ping = c.wait_for(lambda f: f.type == T.PING and not f.has(F.ACK), timeout=4,
                          what="a keep-alive PING")
        assert ping.type == T.PING
        # Not answered: closed by the next interval or two.
        c.frames_until_close(timeout=6)
        assert time.monotonic() - started < 6


def test_keep_alive_interval_keeps_an_answering_client(server):
    s = server(APP, "--http2-keep-alive-interval", "1", "--timeout-keep-alive", "30")
    with RawH2(s.port) as c:
        # Pings come on the shard's once-a-second tick: two within 5 s even
        # on a loaded machine, and none of them closes the connection.
        deadline = time.monotonic() + 5
        answered = 0
        while time.monotonic() < deadline:
            try:
                f = c.read_frame(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                continue
            assert f is not None, "closed although every PING was answered"
            if f.type == T.PING and not f.has(F.ACK):
                c.send(ping(f.payload, ack=True))
                answered += 1
        assert answered >= 2
        c.request(1, "/scope")
        assert c.response(1).status == 200


def test_idle_connection_gets_goaway_after_keep_alive_timeout(server):
    s = server(APP, "--timeout-keep-alive", "1")
    with RawH2(s.port) as c:
        c.request(1, "/scope")
        assert c.response(1).status == 200
        goaway = c.wait_for(lambda f: f.type == T.GOAWAY, timeout=5, what="GOAWAY")
        assert goaway.error_code == E.NO_ERROR
        c.frames_until_close(timeout=5)


# ---------------------------------------------- request limits, per stream

def test_limit_request_body_gets_413_on_that_stream(server):
    s = server(APP, "--limit-request-body", "1000")
    with RawH2(s.port) as c:
        c.request(1, "/echo", method="POST", end_stream=False, extra=[("content-length", "5000")])
        f = c.wait_for(lambda f: f.stream_id == 1 and f.type in (T.HEADERS, T.RST_STREAM),
                       what="the answer to stream 1")
        assert f.type == T.HEADERS and f.header(b":status") == b"413", f
        c.request(3, "/scope")
        assert c.response(3).status == 200


def test_limit_concurrency_gets_503_per_stream(server):
    s = server(APP, "--limit-concurrency", "2")
    with RawH2(s.port) as c:
        for sid in (1, 3):
            c.request(sid, "/sleep?s=2")
        time.sleep(0.5)
        c.request(5, "/scope")
        r = c.response(5)
        assert r.status == 503
        assert c.response(1, timeout=10).status == 200


def test_timeout_request_gets_504_per_stream(server):
    s = server(APP, "--timeout-request", "1")
    with RawH2(s.port) as c:
        c.request(1, "/sleep?s=5")
        c.request(3, "/scope")
        assert c.response(3).status == 200
        assert c.response(1, timeout=5).status == 504


# ---------------------------------------------------------------- bad flags

@pytest.mark.parametrize("flag, value, mention", [
    ("--http2-max-concurrent-streams", "0", "--http2-max-concurrent-streams"),
    ("--http2-initial-window-size", "2147483648", "--http2-initial-window-size"),
    ("--http2-max-header-list-size", "10", "--http2-max-header-list-size"),
    ("--http2-keep-alive-interval", "-1", "--http2-keep-alive-interval"),
])
def test_bad_http2_values_are_one_line_and_exit_1(flag, value, mention):
    done = run_failing(APP, flag, value)
    assert done.returncode == STARTUP_FAILURE_EXIT, done.stderr
    lines = [line for line in done.stderr.splitlines() if mention in line]
    assert lines and "Traceback" not in done.stderr, done.stderr
