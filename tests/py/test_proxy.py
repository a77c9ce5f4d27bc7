"""Behind a proxy (--proxy-headers, --forwarded-allow-ips, --proxy-protocol),
from raw sockets: what a trusted proxy's headers change in the ASGI scope and
the WSGI environ, over HTTP/1.1 and HTTP/2; that an untrusted peer's headers
change nothing (and still reach the app); that a forged left-most
X-Forwarded-For entry is ignored; PROXY protocol v1 and v2, and the
connections it closes. The tests with a real nginx in front are in
test_proxy_nginx.py."""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess

import pytest

from harness import RawConn, wait_for_log

pytestmark = pytest.mark.subcorn_only

ASGI = "echo_scope:app"
WSGI = "wsgi_apps:environ_echo"


def get(port: int, headers=(), *, prefix: bytes = b"", host: str = "testserver") -> dict:
    """One GET / on a fresh connection (after `prefix`: a PROXY header); the JSON it answers."""
    with RawConn(port) as c:
        lines = ["GET / HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers), "", ""]
        c.send(prefix + "\r\n".join(lines).encode("latin-1"))
        r = c.read_response()
        assert r.status == 200, r
        return json.loads(r.body)


def header_values(scope: dict, name: str) -> list[str]:
    return [v for k, v in scope["headers"] if k == name]


# ---- X-Forwarded-* and Forwarded, trusted and not ---------------------------------------


def test_trusted_proxy_sets_client_scheme_and_server(server):
    s = server(ASGI)  # the default --forwarded-allow-ips is 127.0.0.1: the test is the proxy
    scope = get(s.port, [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"),
                         ("X-Forwarded-Host", "shop.example:8443")])
    assert scope["client"] == ["203.0.113.7", 0]
    assert scope["scheme"] == "https"
    assert scope["server"] == ["shop.example", 8443]
    assert header_values(scope, "host") == ["shop.example:8443"]
    # The headers themselves still reach the app.
    assert header_values(scope, "x-forwarded-for") == ["203.0.113.7"]


def test_forged_left_most_entry_is_ignored(server):
    s = server(ASGI)
    scope = get(s.port, [("X-Forwarded-For", "6.6.6.6, 203.0.113.7")])
    assert scope["client"] == ["203.0.113.7", 0]
    # A chain of trusted proxies is walked through.
    s2 = server(ASGI, "--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8")
    scope = get(s2.port, [("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.1.2.3")])
    assert scope["client"] == ["203.0.113.7", 0]


def test_untrusted_peer_changes_nothing(server):
    s = server(ASGI, "--forwarded-allow-ips", "10.0.0.1")
    headers = [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"),
               ("X-Forwarded-Host", "evil.example"), ("Forwarded", "for=198.51.100.1;proto=https")]
    scope = get(s.port, headers)
    assert scope["client"][0] == "127.0.0.1" and scope["client"][1] > 0
    assert scope["scheme"] == "http"
    assert scope["server"] == ["127.0.0.1", s.port]
    assert header_values(scope, "host") == ["testserver"]
    assert header_values(scope, "x-forwarded-for") == ["203.0.113.7"]
    assert header_values(scope, "forwarded") == ["for=198.51.100.1;proto=https"]


def test_no_proxy_headers_turns_it_off(server):
    s = server(ASGI, "--no-proxy-headers")
    scope = get(s.port, [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https")])
    assert scope["client"][0] == "127.0.0.1"
    assert scope["scheme"] == "http"


def test_forwarded_allow_ips_from_uvicorns_variable(server):
    s = server(ASGI, env={"FORWARDED_ALLOW_IPS": "10.0.0.1"})
    assert get(s.port, [("X-Forwarded-For", "203.0.113.7")])["client"][0] == "127.0.0.1"
    # SUBCORN_FORWARDED_ALLOW_IPS wins over it, and the flag over both.
    s = server(ASGI, env={"FORWARDED_ALLOW_IPS": "10.0.0.1", "SUBCORN_FORWARDED_ALLOW_IPS": "*"})
    assert get(s.port, [("X-Forwarded-For", "203.0.113.7")])["client"][0] == "203.0.113.7"
    s = server(ASGI, "--forwarded-allow-ips", "10.0.0.1", env={"SUBCORN_FORWARDED_ALLOW_IPS": "*"})
    assert get(s.port, [("X-Forwarded-For", "203.0.113.7")])["client"][0] == "127.0.0.1"


def test_rfc7239_forwarded_and_which_family_wins(server):
    s = server(ASGI)
    scope = get(s.port, [("Forwarded", 'for="[2001:db8::7]:4711";proto=https;host=shop.example')])
    assert scope["client"] == ["2001:db8::7", 4711]
    assert scope["scheme"] == "https"
    assert scope["server"] == ["shop.example", 443]
    # With any X-Forwarded-* field present, Forwarded is not read.
    scope = get(s.port, [("Forwarded", "for=6.6.6.6;proto=https;host=evil.example"),
                         ("X-Forwarded-For", "203.0.113.7")])
    assert scope["client"] == ["203.0.113.7", 0]
    assert scope["scheme"] == "http"
    assert header_values(scope, "host") == ["testserver"]


def test_malformed_proxy_header_keeps_the_peer(server):
    s = server(ASGI)
    scope = get(s.port, [("X-Forwarded-For", "not-an-address"), ("X-Forwarded-Proto", "gopher")])
    assert scope["client"][0] == "127.0.0.1"
    assert scope["scheme"] == "http"


def test_forwarded_is_per_request_on_one_connection(server):
    s = server(ASGI)
    with RawConn(s.port) as c:
        for forwarded in ("203.0.113.1", None, "203.0.113.2"):
            extra = f"X-Forwarded-For: {forwarded}\r\n" if forwarded else ""
            c.send(f"GET / HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
            client = json.loads(c.read_response().body)["client"]
            assert client[0] == (forwarded or "127.0.0.1")


def test_websocket_scheme_and_client_from_the_proxy(server):
    from websockets.sync.client import connect
    s = server("ws_echo:app")
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    with connect(f"ws://127.0.0.1:{s.port}/scope", additional_headers=headers) as ws:
        scope = json.loads(ws.recv())
    assert scope["scheme"] == "wss"
    assert scope["client"] == ["203.0.113.7", 0]
    with connect(f"ws://127.0.0.1:{s.port}/scope") as ws:
        scope = json.loads(ws.recv())
    assert scope["scheme"] == "ws"
    assert scope["client"][0] == "127.0.0.1"
    s.stop()
    assert '203.0.113.7:0 - "WebSocket /scope" [accepted]' in s.output


def test_wsgi_environ_behind_a_proxy(server):
    s = server(WSGI)
    env = get(s.port, [("X-Forwarded-For", "6.6.6.6, 203.0.113.7"), ("X-Forwarded-Proto", "https"),
                       ("X-Forwarded-Host", "shop.example"), ("X-Forwarded-Port", "8443")])
    assert env["REMOTE_ADDR"] == "203.0.113.7"
    assert env["REMOTE_PORT"] == "0"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "shop.example"
    assert env["SERVER_NAME"] == "shop.example"
    assert env["SERVER_PORT"] == "8443"
    untrusted = server(WSGI, "--forwarded-allow-ips", "10.0.0.1")
    env = get(untrusted.port, [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"),
                               ("X-Forwarded-Host", "shop.example")])
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["wsgi.url_scheme"] == "http"
    assert env["HTTP_HOST"] == "testserver"
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7"


def test_wsgi_threads_keep_the_forwarded_client(server):
    s = server(WSGI, "--threads", "2")
    env = get(s.port, [("X-Forwarded-For", "203.0.113.7")])
    assert env["REMOTE_ADDR"] == "203.0.113.7"


def test_access_log_names_the_forwarded_client(server):
    s = server(ASGI)
    get(s.port, [("X-Forwarded-For", "203.0.113.7")])
    get(s.port)
    s.stop()
    assert '203.0.113.7:0 - "GET / HTTP/1.1" 200' in s.output
    assert '127.0.0.1:' in s.output


def test_http2_requests_read_their_own_proxy_headers(server):
    s = server(ASGI)

    def curl(*headers: str) -> dict:
        args = ["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10", s.url + "/"]
        for h in headers:
            args += ["-H", h]
        return json.loads(subprocess.run(args, check=True, capture_output=True).stdout)

    scope = curl("X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https")
    assert scope["http_version"] == "2"
    assert scope["client"] == ["203.0.113.7", 0]
    assert scope["scheme"] == "https"
    assert curl()["client"][0] == "127.0.0.1"
    untrusted = server(ASGI, "--forwarded-allow-ips", "10.0.0.1")
    s = untrusted
    assert curl("X-Forwarded-For: 203.0.113.7")["client"][0] == "127.0.0.1"


def test_bad_forwarded_allow_ips_is_one_line_and_exit_1(server):
    from harness import run_failing
    done = run_failing(ASGI, "--forwarded-allow-ips", "127.0.0.1,localhost")
    assert done.returncode == 1
    assert "--forwarded-allow-ips" in done.stderr and "'localhost'" in done.stderr


# ---- PROXY protocol -----------------------------------------------------------------


def v2_header(source: str, source_port: int, dest: str, dest_port: int, *, local: bool = False,
              tlvs: bytes = b"") -> bytes:
    six = ":" in source
    family = socket.AF_INET6 if six else socket.AF_INET
    addresses = (socket.inet_pton(family, source) + socket.inet_pton(family, dest) +
                 struct.pack("!HH", source_port, dest_port))
    body = addresses + tlvs
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20 if local else 0x21, 0x21 if six else 0x11]) +
            struct.pack("!H", len(body)) + body)


def closed_without_answer(port: int, data: bytes, timeout: float = 5.0) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            return sock.recv(100) == b""
        except ConnectionResetError:
            return True


def test_proxy_protocol_v1_gives_the_client(server):
    s = server(ASGI, "--proxy-protocol")
    scope = get(s.port, prefix=b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n")
    assert scope["client"] == ["203.0.113.7", 56324]
    assert scope["server"] == ["192.0.2.1", 443]
    scope = get(s.port, prefix=b"PROXY TCP6 2001:db8::7 2001:db8::1 4711 8443\r\n")
    assert scope["client"] == ["2001:db8::7", 4711]
    # UNKNOWN keeps the socket's own peer.
    scope = get(s.port, prefix=b"PROXY UNKNOWN\r\n")
    assert scope["client"][0] == "127.0.0.1"


def test_proxy_protocol_v2_with_tlvs_and_local(server):
    s = server(WSGI, "--proxy-protocol")
    tlvs = b"\x01\x00\x02h2" + b"\x04\x00\x03\x00\x00\x00"  # ALPN, then NOOP padding
    env = get(s.port, prefix=v2_header("203.0.113.7", 56324, "192.0.2.1", 443, tlvs=tlvs))
    assert env["REMOTE_ADDR"] == "203.0.113.7"
    assert env["REMOTE_PORT"] == "56324"
    assert env["SERVER_PORT"] == "443"
    env = get(s.port, prefix=v2_header("203.0.113.7", 1, "192.0.2.1", 2, local=True))
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_proxy_protocol_header_sent_in_pieces_then_pipelined_requests(server):
    import time
    s = server(ASGI, "--proxy-protocol")
    header = b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n"
    with RawConn(s.port) as c:
        for i in range(0, len(header), 7):
            c.send(header[i:i + 7])
            time.sleep(0.02)
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 2)
        for _ in range(2):
            assert json.loads(c.read_response().body)["client"] == ["203.0.113.7", 56324]


def test_proxy_protocol_decides_trust_of_forwarded_headers(server):
    # The client the header names is the peer from then on: 203.0.113.7 is no
    # trusted proxy, so its X-Forwarded-For does not count; 10.0.0.5 is one.
    s = server(ASGI, "--proxy-protocol", "--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8")
    xff = [("X-Forwarded-For", "198.51.100.1")]
    scope = get(s.port, xff, prefix=b"PROXY TCP4 203.0.113.7 192.0.2.1 1 443\r\n")
    assert scope["client"] == ["203.0.113.7", 1]
    scope = get(s.port, xff, prefix=b"PROXY TCP4 10.0.0.5 192.0.2.1 1 443\r\n")
    assert scope["client"] == ["198.51.100.1", 0]


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",                               # missing
    b"PROXY TCP4 203.0.113.7 192.0.2.1 56324\r\nGET / HTTP/1.1\r\n\r\n",  # malformed v1
    b"PROXY TCP4 " + b"1" * 120 + b"\r\n",                               # over 107 bytes
    b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + bytes(12),               # v2, version 3
])
def test_proxy_protocol_closes_on_a_bad_or_missing_header(server, data):
    s = server(ASGI, "--proxy-protocol")
    assert closed_without_answer(s.port, data)
    assert get(s.port, prefix=b"PROXY UNKNOWN\r\n")["client"][0] == "127.0.0.1"  # still serving
    # Said once, with the peer and why (throttled as invalid requests are).
    wait_for_log(s, "without an answer (--proxy-protocol)")
    [line] = [ln for ln in s.stderr.splitlines() if "--proxy-protocol)" in ln]
    assert re.search(r"WARNING: +Closed a connection from 127\.0\.0\.1:\d+ without an answer "
                     r"\(--proxy-protocol\): \S", line), line


def test_proxy_protocol_from_an_untrusted_peer_is_closed(server):
    s = server(ASGI, "--proxy-protocol", "--forwarded-allow-ips", "10.0.0.1")
    assert closed_without_answer(s.port, b"PROXY TCP4 203.0.113.7 192.0.2.1 1 2\r\nGET / HTTP/1.1\r\n\r\n")
    # Closed at once, without waiting for it to speak.
    with socket.create_connection(("127.0.0.1", s.port), timeout=3) as sock:
        assert sock.recv(100) == b""
    wait_for_log(s, "the peer is not in --forwarded-allow-ips")
    # One line, then counted: a second one within 10 s is in the summary.
    assert s.stderr.count("without an answer (--proxy-protocol)") == 1


def test_proxy_protocol_header_timeout(server):
    import time
    s = server(ASGI, "--proxy-protocol", "--timeout-request-header", "1")
    with socket.create_connection(("127.0.0.1", s.port), timeout=6) as sock:
        sock.sendall(b"PROXY TCP4 ")
        began = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - began < 4
    wait_for_log(s, "no whole PROXY protocol header within --timeout-request-header")


def test_proxy_protocol_before_tls(server, tmp_path):
    import ssl
    import trustme
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    pem = tmp_path / "cert.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(pem)
    s = server(ASGI, "--proxy-protocol", "--ssl-certfile", str(pem))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
        raw.sendall(v2_header("203.0.113.7", 56324, "192.0.2.1", 443))
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    scope = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert scope["client"] == ["203.0.113.7", 56324]
    assert scope["scheme"] == "https"
