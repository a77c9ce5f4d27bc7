"""TLS (issue 9): HTTPS and WSS with real clients (curl, httpx, Python's ssl,
websockets), certificates made per test run with trustme.

Covers TLS 1.2 and 1.3 and --ssl-min-version, a chain file, client
certificates (none / optional / required) and the ASGI tls extension, start
errors (one line, exit 1) in both modes, garbage and half-open clients,
session resumption across shards and worker processes, --ssl-reload and
SIGHUP with a good and a broken certificate, file_wrapper and large bodies
byte-exact, and WebSocket over wss.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from websockets.sync.client import connect as ws_connect

from harness import APPS, free_port, run_cli, wait_for_log

pytestmark = pytest.mark.subcorn_only

TLS13_SUITES = {"TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302,
                "TLS_CHACHA20_POLY1305_SHA256": 0x1303}


class Pki:
    """A root CA, an intermediate that signs the server's certificate (so the
    chain file matters), a second server certificate for reloads, and a CA
    for client certificates with one client."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.root = trustme.CA()
        self.intermediate = self.root.create_child_ca()
        self.server = self.intermediate.issue_cert("127.0.0.1", "localhost")
        self.other = self.intermediate.issue_cert("127.0.0.1", "localhost")
        self.client_ca = trustme.CA()
        self.client = self.client_ca.issue_cert("client.example")
        self.ca = self.write("ca.pem", self.root.cert_pem.bytes())
        self.chain = self.write("chain.pem", b"".join(p.bytes() for p in self.server.cert_chain_pems))
        self.leaf_only = self.write("leaf.pem", self.server.cert_chain_pems[0].bytes())
        self.key = self.write("key.pem", self.server.private_key_pem.bytes())
        self.other_chain = self.write("other-chain.pem",
                                      b"".join(p.bytes() for p in self.other.cert_chain_pems))
        self.other_key = self.write("other-key.pem", self.other.private_key_pem.bytes())
        self.client_cas = self.write("client-ca.pem", self.client_ca.cert_pem.bytes())
        key = serialization.load_pem_private_key(self.server.private_key_pem.bytes(), None)
        self.encrypted_key = self.write("encrypted-key.pem", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret")))
        self.garbage = self.write("garbage.pem", b"this is not a certificate\n" * 10)

    def write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def flags(self, chain: str | None = None, key: str | None = None) -> list[str]:
        return ["--ssl-certfile", chain or self.chain, "--ssl-keyfile", key or self.key]

    def client_context(self, *, maximum: ssl.TLSVersion | None = None,
                       with_client_cert: bool = False) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca)
        if maximum is not None:
            ctx.maximum_version = maximum
        if with_client_cert:
            self.client.configure_cert(ctx)
        return ctx


@pytest.fixture
def pki(tmp_path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    return Pki(directory)


def https_get(port: int, path: str = "/", ctx: ssl.SSLContext | None = None,
              session: ssl.SSLSession | None = None, timeout: float = 10):
    """One GET over a new TLS connection: (status, body, the SSL socket's facts)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                        .encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            facts = {"version": tls.version(), "cipher": tls.cipher()[0],
                     "reused": tls.session_reused, "session": tls.session,
                     "peer_der": tls.getpeercert(binary_form=True)}
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body, facts


def send_raw(port: int, data: bytes) -> bytes:
    """Sends `data` over plain TCP; what comes back until the server closes
    (a reset, from input the server left unread, counts as the close)."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(data)
        try:
            while chunk := c.recv(4096):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def der_of(pem_path: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text().split("-----END CERTIFICATE-----")[0]
                                    + "-----END CERTIFICATE-----\n")


# ---------------------------------------------------------------- real clients


def test_curl_with_cacert(server, pki):
    s = server("hello:app", *pki.flags())
    # curl offers h2 and http/1.1 by ALPN: the server picks HTTP/2 (docs/http2.md).
    out = subprocess.run(["curl", "-sS", "--cacert", pki.ca, f"https://localhost:{s.port}/",
                          "-w", "\n%{http_version} %{ssl_verify_result}"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello\n2 0"
    http1 = subprocess.run(["curl", "-sS", "--http1.1", "--cacert", pki.ca,
                            f"https://localhost:{s.port}/", "-w", "\n%{http_version}"],
                           capture_output=True, text=True, timeout=20)
    assert http1.stdout == "hello\n1.1", http1.stderr
    assert f"running on https://127.0.0.1:{s.port}" in s.stderr


def test_httpx_verifies_and_scope_has_tls_extension(server, pki):
    s = server("tls_apps:app", *pki.flags())
    with httpx.Client(verify=pki.client_context()) as client:
        r = client.get(f"https://127.0.0.1:{s.port}/scope")
        again = client.get(f"https://127.0.0.1:{s.port}/scope")  # the same connection
    assert r.status_code == 200 and again.status_code == 200
    scope = r.json()
    assert scope["scheme"] == "https"
    tls = scope["extensions"]["tls"]
    assert set(tls) == {"server_cert", "client_cert_chain", "client_cert_name",
                        "client_cert_error", "tls_version", "cipher_suite"}
    assert tls["server_cert"] == pki.server.cert_chain_pems[0].bytes().decode()
    assert tls["client_cert_chain"] == []
    assert tls["client_cert_name"] is None and tls["client_cert_error"] is None
    assert tls["tls_version"] == 0x0304
    assert tls["cipher_suite"] in TLS13_SUITES.values()
    assert again.json()["extensions"]["tls"] == tls


def test_python_ssl_tls12_and_tls13(server, pki):
    s = server("tls_apps:app", *pki.flags())
    status, body, facts = https_get(s.port, "/scope", pki.client_context())
    assert status == 200 and facts["version"] == "TLSv1.3"
    tls = json.loads(body)["extensions"]["tls"]
    assert tls["cipher_suite"] == TLS13_SUITES[facts["cipher"]]

    status, body, facts = https_get(s.port, "/scope",
                                    pki.client_context(maximum=ssl.TLSVersion.TLSv1_2))
    assert status == 200 and facts["version"] == "TLSv1.2"
    tls = json.loads(body)["extensions"]["tls"]
    assert tls["tls_version"] == 0x0303
    # The IANA number of the suite the client says it got, e.g. 0xC02F.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ids = {c["name"]: c["id"] & 0xFFFF for c in ctx.get_ciphers()}
    assert tls["cipher_suite"] == ids[facts["cipher"]]


def test_min_version_tls13_refuses_tls12(server, pki):
    s = server("hello:app", *pki.flags(), "--ssl-min-version", "TLSv1.3")
    with pytest.raises(ssl.SSLError):
        https_get(s.port, "/", pki.client_context(maximum=ssl.TLSVersion.TLSv1_2))
    status, body, facts = https_get(s.port, "/", pki.client_context())
    assert (status, body, facts["version"]) == (200, b"hello", "TLSv1.3")


def test_ciphers_limit_tls12(server, pki):
    s = server("hello:app", *pki.flags(), "--ssl-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256")
    _, _, facts = https_get(s.port, "/", pki.client_context(maximum=ssl.TLSVersion.TLSv1_2))
    assert facts["cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256"


def test_chain_file_is_sent_whole(server, pki):
    """The client trusts only the root: the intermediate must come from the server."""
    s = server("hello:app", *pki.flags())
    assert https_get(s.port, "/", pki.client_context())[:2] == (200, b"hello")
    leaf_only = server("hello:app", *pki.flags(chain=pki.leaf_only))
    with pytest.raises(ssl.SSLCertVerificationError):
        https_get(leaf_only.port, "/", pki.client_context())


# ---------------------------------------------------------------- client certificates


def test_client_cert_required(server, pki):
    s = server("tls_apps:app", *pki.flags(), "--ssl-ca-certs", pki.client_cas,
               "--ssl-cert-reqs", "required")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_get(s.port, "/scope", pki.client_context())
    status, body, _ = https_get(s.port, "/scope", pki.client_context(with_client_cert=True))
    assert status == 200
    tls = json.loads(body)["extensions"]["tls"]
    client_pem = pki.client.cert_chain_pems[0].bytes().decode()
    assert tls["client_cert_chain"][0] == client_pem
    subject = x509.load_pem_x509_certificate(client_pem.encode()).subject.rfc4514_string()
    assert tls["client_cert_name"] == subject
    assert tls["client_cert_error"] is None


def test_client_cert_optional_and_uvicorn_number(server, pki):
    s = server("tls_apps:app", *pki.flags(), "--ssl-ca-certs", pki.client_cas,
               "--ssl-cert-reqs", "1")
    status, body, _ = https_get(s.port, "/scope", pki.client_context())
    assert status == 200
    assert json.loads(body)["extensions"]["tls"]["client_cert_chain"] == []
    status, body, _ = https_get(s.port, "/scope", pki.client_context(with_client_cert=True))
    assert json.loads(body)["extensions"]["tls"]["client_cert_chain"] == [
        pki.client.cert_chain_pems[0].bytes().decode()]


def test_client_cert_from_another_ca_is_refused(server, pki):
    s = server("hello:app", *pki.flags(), "--ssl-ca-certs", pki.client_cas,
               "--ssl-cert-reqs", "optional")
    stranger = trustme.CA().issue_cert("stranger.example")
    ctx = pki.client_context()
    stranger.configure_cert(ctx)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        https_get(s.port, "/", ctx)
    assert https_get(s.port, "/", pki.client_context())[:2] == (200, b"hello")


# ---------------------------------------------------------------- start errors


def start_error_cases(pki: Pki) -> list[tuple[list[str], str]]:
    missing = str(pki.dir / "missing.pem")
    return [
        (["--ssl-certfile", pki.chain, "--ssl-keyfile", pki.encrypted_key,
          "--ssl-keyfile-password", "wrong"],
         f"--ssl-keyfile-password: wrong password for {pki.encrypted_key}"),
        (["--ssl-certfile", pki.chain, "--ssl-keyfile", pki.encrypted_key],
         f"--ssl-keyfile-password: {pki.encrypted_key} is encrypted; give its password"),
        (["--ssl-certfile", pki.chain, "--ssl-keyfile", pki.other_key],
         f"--ssl-keyfile: {pki.other_key} does not match the certificate in {pki.chain}"),
        (["--ssl-certfile", missing, "--ssl-keyfile", pki.key],
         f"--ssl-certfile: cannot read {missing}: No such file or directory"),
        (["--ssl-certfile", pki.garbage, "--ssl-keyfile", pki.key],
         f"--ssl-certfile: no PEM certificate in {pki.garbage}"),
        (["--ssl-certfile", pki.chain, "--ssl-keyfile", pki.garbage],
         f"--ssl-keyfile: no PEM private key in {pki.garbage}"),
        (["--ssl-certfile", pki.chain, "--ssl-keyfile", pki.key, "--ssl-ca-certs", pki.garbage,
          "--ssl-cert-reqs", "required"],
         f"--ssl-ca-certs: no PEM certificate in {pki.garbage}"),
        (["--ssl-certfile", pki.chain, "--ssl-keyfile", pki.key, "--ssl-cert-reqs", "required"],
         "--ssl-cert-reqs required needs --ssl-ca-certs"),
        (["--ssl-certfile", pki.chain, "--ssl-keyfile", pki.key, "--ssl-ciphers", "NOPE"],
         '--ssl-ciphers: no TLS 1.2 cipher that OpenSSL knows in "NOPE"'),
    ]


@pytest.mark.parametrize("mode", [["--mode", "interpreters"], ["--mode", "processes"]])
def test_broken_certificate_is_one_line_and_exit_1(pki, mode):
    for flags, message in start_error_cases(pki):
        port = free_port()
        r = run_cli(["hello:app", "--app-dir", str(APPS), "--port", str(port), "--workers", "2",
                     *mode, *flags])
        assert r.returncode == 1, (flags, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ERROR:") and message in lines[0], \
            (flags, r.stderr)
        # Nothing was bound or started.
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_encrypted_key_with_password(server, pki):
    s = server("hello:app", "--ssl-certfile", pki.chain, "--ssl-keyfile", pki.encrypted_key,
               "--mode", "processes", env={"SUBCORN_SSL_KEYFILE_PASSWORD": "s3cret"})
    assert https_get(s.port, "/", pki.client_context())[:2] == (200, b"hello")
    # The password goes to the worker process by its environment, not its command line.
    for child in psutil_children(s.pid):
        assert "s3cret" not in " ".join(child.cmdline())


def psutil_children(pid: int):
    import psutil

    return psutil.Process(pid).children(recursive=True)


# ---------------------------------------------------------------- hostile clients


def test_garbage_gets_an_alert_and_the_server_goes_on(server, pki):
    s = server("hello:app", *pki.flags())
    # A record of a type that cannot start a handshake.
    answer = send_raw(s.port, b"\x17\x03\x03\x00\x05hello")
    assert answer[:1] == b"\x15", answer  # an alert record, then end of file
    assert answer[5:6] == b"\x02"  # fatal
    # Plain HTTP to the TLS port: closed (OpenSSL sends no alert for it;
    # the unread rest of the request makes the close a reset).
    assert b"HTTP/1.1" not in send_raw(s.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert https_get(s.port, "/", pki.client_context())[:2] == (200, b"hello")


def test_handshake_timeout_closes_half_open_clients(server, pki):
    s = server("hello:app", *pki.flags(), "--ssl-handshake-timeout", "1")
    silent = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    partial = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    partial.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, never finished
    began = time.monotonic()
    # Meanwhile others are served (one worker: the same shard).
    assert https_get(s.port, "/", pki.client_context())[:2] == (200, b"hello")
    for c in (silent, partial):
        while c.recv(4096):  # until the server closes it (or the 10 s socket timeout fails)
            pass
        c.close()
    waited = time.monotonic() - began
    assert 0.9 <= waited < 4, waited


@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_refused_connections_are_closed_not_answered_in_plain_text(server, pki, mode):
    """Beyond --limit-max-connections a plain connection gets a 503; a TLS
    client would read that as garbage, so it is closed instead."""
    s = server("hello:app", *pki.flags(), "--limit-max-connections", "1", "--mode", mode)
    deadline = time.monotonic() + 10
    while True:  # the readiness probe's connection may not be counted closed yet
        held = http.client.HTTPSConnection("127.0.0.1", s.port, context=pki.client_context(),
                                           timeout=10)
        try:
            held.request("GET", "/")
            break
        except (ssl.SSLError, ConnectionError):
            held.close()
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert held.getresponse().read() == b"hello"
    assert send_raw(s.port, b"\x16\x03\x01\x00\x00") == b""  # any first bytes of a ClientHello
    held.close()


# ---------------------------------------------------------------- resumption


@pytest.mark.parametrize("mode, maximum", [
    ("interpreters", None), ("interpreters", ssl.TLSVersion.TLSv1_2), ("processes", None)])
def test_sessions_resume_on_every_worker(server, pki, mode, maximum):
    s = server("tls_apps:app", *pki.flags(), "--mode", mode, workers=2)
    ctx = pki.client_context(maximum=maximum)
    # Both workers serve first (the second may start after the first serves).
    deadline = time.monotonic() + 15
    seen = set()
    while len(seen) < 2 and time.monotonic() < deadline:
        status, body, facts = https_get(s.port, "/whoami", ctx)
        assert status == 200 and not facts["reused"]
        seen.add(body)
    assert len(seen) == 2, seen
    session = facts["session"]
    answered = set()
    # Which worker takes a connection is the balancer's choice (one after
    # another, an idle pair may hand several to the same one): go on until
    # both have answered, every connection resumed.
    deadline = time.monotonic() + 15
    tries = 0
    while (tries < 16 or len(answered) < 2) and time.monotonic() < deadline:
        status, body, facts = https_get(s.port, "/whoami", ctx, session=session)
        assert status == 200 and facts["reused"], facts
        who = json.loads(body)
        answered.add((who["pid"], who["interpreter_id"]))
        tries += 1
    assert len(answered) == 2, answered  # both workers resumed sessions they did not begin


# ---------------------------------------------------------------- reload


def replace_file(path: str, source: str) -> None:
    """As certbot does: write beside, rename over."""
    shutil.copyfile(source, path + ".new")
    os.replace(path + ".new", path)


def test_ssl_reload_new_handshakes_get_the_new_certificate(server, pki, tmp_path):
    chain, key = str(tmp_path / "live-chain.pem"), str(tmp_path / "live-key.pem")
    shutil.copyfile(pki.chain, chain)
    shutil.copyfile(pki.key, key)
    s = server("tls_apps:app", "--ssl-certfile", chain, "--ssl-keyfile", key, "--ssl-reload",
               "--timeout-keep-alive", "30", workers=2)
    ctx = pki.client_context()
    _, _, before = https_get(s.port, "/whoami", ctx)
    assert before["peer_der"] == der_of(pki.chain)
    kept = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10)
    kept.request("GET", "/whoami")
    assert kept.getresponse().read()

    replace_file(key, pki.other_key)
    replace_file(chain, pki.other_chain)
    wait_for_log(s, "TLS certificate reloaded", timeout=6)
    time.sleep(0.2)
    _, _, after = https_get(s.port, "/whoami", ctx)
    assert after["peer_der"] == der_of(pki.other_chain)
    # The established connection goes on, with its own certificate.
    kept.request("GET", "/whoami")
    assert kept.getresponse().status == 200
    assert kept.sock.getpeercert(binary_form=True) == der_of(pki.chain)
    kept.close()
    # Tickets issued before the reload still resume.
    _, _, resumed = https_get(s.port, "/whoami", ctx, session=before["session"])
    assert resumed["reused"]

    # A broken certificate: refused, logged once, the last good one kept.
    Path(chain).write_text("not a certificate\n")
    wait_for_log(s, "TLS certificate not reloaded", timeout=6)
    time.sleep(2.5)
    assert s.stderr.count("TLS certificate not reloaded") == 1, s.stderr
    assert "--ssl-certfile: no PEM certificate in" in s.stderr
    _, body, still = https_get(s.port, "/whoami", ctx)
    assert still["peer_der"] == der_of(pki.other_chain)


def test_sighup_with_a_broken_certificate_keeps_serving(server, pki, tmp_path):
    chain, key = str(tmp_path / "live-chain.pem"), str(tmp_path / "live-key.pem")
    shutil.copyfile(pki.chain, chain)
    shutil.copyfile(pki.key, key)
    s = server("tls_apps:app", "--ssl-certfile", chain, "--ssl-keyfile", key)
    ctx = pki.client_context()
    first = json.loads(https_get(s.port, "/whoami", ctx)[1])["pid"]

    replace_file(key, pki.other_key)  # the key changed, the certificate not yet
    os.kill(s.pid, signal.SIGHUP)
    wait_for_log(s, "Reload refused (SIGHUP)", timeout=6)
    assert "does not match the certificate" in s.stderr
    assert "Reloading (SIGHUP)" not in s.stderr
    _, body, facts = https_get(s.port, "/whoami", ctx)
    assert json.loads(body)["pid"] == first and facts["peer_der"] == der_of(pki.chain)

    replace_file(chain, pki.other_chain)
    os.kill(s.pid, signal.SIGHUP)
    wait_for_log(s, "Reload complete", timeout=20)
    _, body, facts = https_get(s.port, "/whoami", ctx)
    assert json.loads(body)["pid"] != first and facts["peer_der"] == der_of(pki.other_chain)


# ---------------------------------------------------------------- bodies, files, WebSocket


def test_large_response_byte_exact(server, pki):
    import sys

    sys.path.insert(0, str(APPS))
    from tls_apps import pattern

    s = server("tls_apps:app", *pki.flags())
    n = 5 * 1024 * 1024 + 7
    with httpx.Client(verify=pki.client_context()) as client:
        r = client.get(f"https://127.0.0.1:{s.port}/big?n={n}")
        again = client.get(f"https://127.0.0.1:{s.port}/big?n=3")
    assert r.status_code == 200 and len(r.content) == n
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(pattern(n)).digest()
    assert again.content == pattern(3)


def test_wsgi_file_wrapper_byte_exact(server, pki, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 123)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    s = server("tls_apps:wsgi_file", *pki.flags(), "--interface", "wsgi",
               env={"WSGI_FILE": str(path)})
    out = subprocess.run(["curl", "-sS", "--cacert", pki.ca, f"https://localhost:{s.port}/",
                          f"https://localhost:{s.port}/"], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == data + data  # twice on one keep-alive connection


def test_wsgi_url_scheme_https(server, pki):
    s = server("tls_apps:wsgi_environ", *pki.flags(), "--interface", "wsgi")
    assert https_get(s.port, "/", pki.client_context())[:2] == (200, b"https")


def test_websocket_over_wss(server, pki):
    s = server("ws_echo:app", *pki.flags())
    with ws_connect(f"wss://localhost:{s.port}/scope", ssl=pki.client_context(),
                    open_timeout=10) as ws:
        scope = json.loads(ws.recv(timeout=10))
        for message in ("hello", b"\x00\x01binary", "x" * 200_000):
            ws.send(message)
            assert ws.recv(timeout=10) == message
    assert scope["scheme"] == "wss"
    assert scope["extensions"]["tls"]["tls_version"] == 0x0304
    assert "websocket.http.response" in scope["extensions"]
