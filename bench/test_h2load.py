"""The HTTP/2 and TLS pieces of the harness: run by hand, in the root, one at a time:

    ./dev run python3.14 -m pytest -q bench/test_h2load.py

bench/load_h2.py must read h2load's numbers right (from recorded output and
from real runs against hypercorn, over h2c and over TLS, with an app that
answers 500 on purpose), and fail a run that did not speak HTTP/2; the
readiness check in bench/servers.py must accept a server that speaks the
scenario's protocol with the run's certificate, and fail fast, with the
reason, one that does not.
"""

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import servers, tls
from bench.apps.hello import Receive, Scope, Send, app as hello
from bench.load import LoadError
from bench.load_h2 import H2Load, parse, run_h2load

Wire = servers.Wire


async def fail_every_other(scope: Scope, receive: Receive, send: Send) -> None:
    """hello, except that every second request to /fail gets a 500."""
    global _fail_count
    if scope["type"] != "http" or scope["path"] != "/fail":
        await hello(scope, receive, send)
        return
    _fail_count += 1
    status = 500 if _fail_count % 2 == 0 else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


_fail_count = 0


# --- parsing recorded output ------------------------------------------------

# Lines of h2load 1.70's stdout around what parse() reads.
STDOUT_H2C = """\
Main benchmark duration is started for thread #0.
Application protocol: h2c
Main benchmark duration is over for thread #0. Stopping all clients.
"""
STDOUT_TLS = """\
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2
"""


def report(done: int = 1000, failed: int = 0, median: float | None = 0.009) -> str:
    """An h2load --output-file report, as 1.70 writes it (samples left out)."""
    latency = {"min": 4e-05, "max": 0.027, "median": median, "p95": 0.0105,
               "p99": 0.0134 if median is not None else None, "samples": []}  # fmt: skip
    return json.dumps({
        "version": "v1",
        "measurements": {
            "duration": 2.5,
            "requests": {"total": done, "started": done + 640, "done": done,
                         "succeeded": done - failed, "failed": failed, "errored": 0,
                         "timeout": 0},  # fmt: skip
            "performance": {"request": latency},
        },
    })  # fmt: skip


def test_parse_reads_counts_seconds_and_percentiles() -> None:
    result = parse(STDOUT_H2C, report(done=1000, failed=7), tls=False)
    assert (result.requests, result.errors, result.seconds) == (1000, 7, 2.5)
    assert result.rps == 400
    assert result.p50_us == pytest.approx(9000) and result.p99_us == pytest.approx(13400)
    assert result.protocol == "h2c" and result.tls is None


def test_parse_reads_tls_version_and_cipher() -> None:
    result = parse(STDOUT_TLS, report(), tls=True)
    assert result.protocol == "h2"
    assert result.tls == "TLSv1.3 TLS_AES_128_GCM_SHA256"


def test_parse_refuses_a_run_over_another_protocol() -> None:
    with pytest.raises(LoadError, match="spoke http/1.1, not h2"):
        parse(STDOUT_TLS.replace("protocol: h2", "protocol: http/1.1"), report(), tls=True)
    # Over TLS h2load says h2, never h2c: a cleartext run must not pass as TLS.
    with pytest.raises(LoadError, match="spoke h2c, not h2"):
        parse(STDOUT_H2C, report(), tls=True)


def test_parse_refuses_a_run_without_a_connection() -> None:
    stdout = "starting benchmark...\nclient could not connect to host\n"
    with pytest.raises(LoadError, match="no HTTP/2 connection was made: .*could not connect"):
        parse(stdout, report(), tls=False)


def test_parse_refuses_a_run_that_completed_nothing() -> None:
    with pytest.raises(LoadError, match="completed no request"):
        parse(STDOUT_H2C, report(done=0, median=None), tls=False)


@pytest.mark.parametrize("text", ["", "{", '{"measurements": {}}', '{"measurements": []}'])
def test_parse_refuses_an_unreadable_report(text: str) -> None:
    with pytest.raises(LoadError, match="unreadable h2load report"):
        parse(STDOUT_H2C, text, tls=False)


# --- real runs ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tls.TlsFiles:
    return tls.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    """Starts a server the harness's way (servers.start) and stops it after the test."""
    running: list[servers.Running] = []

    def launch(server: str, app: str, wire: Wire, files: tls.TlsFiles | None = None,
               path: str = "/") -> servers.Running:  # fmt: skip
        log = tmp_path / f"{server}-{len(running)}.log"
        started = servers.start(servers.Target(server), app, 1, "0,1", tmp_path, log, 30,
                                path, None, wire, files)  # fmt: skip
        running.append(started)
        return started

    yield launch
    for server in running:
        servers.stop(server)


LOAD = H2Load(connections=4, streams=4, seconds=1, cpus="0,1")


def test_h2load_over_h2c_counts_requests(start) -> None:
    server = start("hypercorn", "bench.apps.hello:app", Wire.H2C)
    result = run_h2load(server.url, LOAD)
    assert result.protocol == "h2c" and result.errors == 0
    assert result.requests > 50 and 0 < result.p50_us <= result.p99_us
    assert 0.9 < result.seconds < 2
    # h2load's own CPU: some, and no more than its wall time (one thread).
    assert 0 < result.client_cpu_seconds < 3


def test_h2load_over_tls_counts_requests_and_says_what_it_negotiated(start, tls_files) -> None:
    server = start("hypercorn", "bench.apps.hello:app", Wire.H2, tls_files)
    assert server.url.startswith("https://")
    result = run_h2load(server.url, LOAD)
    assert result.protocol == "h2" and result.errors == 0 and result.requests > 50
    assert result.tls is not None and result.tls.startswith("TLSv1.")


def test_h2load_counts_error_statuses(start) -> None:
    server = start("hypercorn", "bench.test_h2load:fail_every_other", Wire.H2C)
    result = run_h2load(server.url.removesuffix("/") + "/fail", LOAD)
    # Every second answer is a 500; the window may end between the two of a pair.
    assert result.requests > 50
    assert abs(result.errors - result.requests / 2) <= 1


def uvicorn_http1(tmp_path: Path, files: tls.TlsFiles | None) -> tuple[servers.Running, float]:
    """uvicorn (HTTP/1.1 only) on its own: the harness would refuse to start it for HTTP/2."""
    port = servers.free_port()
    ssl = (["--ssl-certfile", str(files.certfile), "--ssl-keyfile", str(files.keyfile)]
           if files else [])  # fmt: skip
    log = tmp_path / "uvicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [servers.PYTHON, "-m", "uvicorn", "bench.apps.hello:app", "--port", str(port),
             "--log-level", "warning", *ssl],
            cwd=servers.REPO, env=servers.server_env(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return servers.Running("uvicorn", proc, port, "/", log), time.monotonic()


@pytest.mark.parametrize("wire", [Wire.H2C, Wire.H2])
def test_a_server_without_http2_fails_fast(tmp_path: Path, tls_files, wire: Wire) -> None:
    server, started = uvicorn_http1(tmp_path, tls_files if wire.tls else None)
    server.wire = wire
    try:
        with pytest.raises(servers.StartError, match=f"no working {wire.value}: "):
            servers._wait_ready(server, 30, None, tls_files)
        # The protocol grace, not the 30 s start timeout.
        assert time.monotonic() - started < 15
        # h2load, too, refuses to measure it.
        with pytest.raises(LoadError):
            run_h2load(server.url, LOAD)
    finally:
        servers.stop(server)


def test_a_server_without_tls_fails_fast(tmp_path: Path, tls_files) -> None:
    server, started = uvicorn_http1(tmp_path, None)
    server.wire = Wire.HTTPS1
    try:
        with pytest.raises(servers.StartError, match="no working HTTPS/1.1: ConnectError"):
            servers._wait_ready(server, 30, None, tls_files)
        assert time.monotonic() - started < 15
    finally:
        servers.stop(server)


def test_https_readiness_checks_the_certificate(start, tls_files, tmp_path: Path) -> None:
    server = start("uvicorn", "bench.apps.hello:app", Wire.HTTPS1, tls_files)
    assert server.negotiated is not None and server.negotiated.startswith("TLSv1.")
    # The same server does not pass a check that trusts another CA.
    other = tls.make(tmp_path / "other")
    with pytest.raises(servers.StartError, match="CERTIFICATE_VERIFY_FAILED"):
        servers._wait_ready(server, 30, None, other)


@pytest.mark.parametrize("wire", [Wire.H2C, Wire.H2, Wire.HTTPS1])
def test_nginx_serves_every_wire(start, tls_files, wire: Wire) -> None:
    server = start("nginx", "", wire, tls_files if wire.tls else None)
    if wire.http2:
        result = run_h2load(server.url, LOAD)
        assert result.errors == 0 and result.requests > 50
    assert (server.negotiated is not None) == wire.tls
