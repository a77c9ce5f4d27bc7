"""The access log's format, file and JSON records, --log-config, and error
lines that name the worker and the request (docs/logging.md), against the
real server over HTTP/1.1 and HTTP/2 (curl)."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from harness import APPS, IS_PEER, run_failing

pytestmark = pytest.mark.subcorn_only

APP = "logging_apps:app"
# Every atom, one per field, so each is checked on its own.
ATOMS = ["h", "l", "u", "t", "r", "s", "b", "f", "a", "L", "M", "D", "T", "p", "m", "U", "q",
         "H", "{x-request-id}i", "{x-cache}o", "{content-type}o", "{x-none}o", "worker",
         "protocol", "client"]
EVERY_ATOM = "|".join(f"%({a})s" for a in ATOMS)
CURL_VERSIONS = {"http1": ["--http1.1"], "http2": ["--http2-prior-knowledge"]}


def curl(url: str, *args: str) -> str:
    done = subprocess.run(["curl", "-sS", "--max-time", "10", *args, url],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for(read, predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen in time; last:\n{value}")
        time.sleep(0.05)


def access_lines(s, marker: str) -> list[str]:
    return wait_for(lambda: [ln for ln in s.stdout.splitlines() if marker in ln], bool)


@pytest.mark.parametrize("version", sorted(CURL_VERSIONS))
def test_every_atom(server, version):
    s = server(APP, "--access-log-format", EVERY_ATOM)
    assert curl(s.url + "/slow?color=red", *CURL_VERSIONS[version], "-u", "alice:secret",
                "-H", "Referer: https://ref.example/x", "-A", "probe-agent/1.0",
                "-H", "X-Request-Id: req-42") == "hello-log"
    [line] = access_lines(s, "probe-agent/1.0")
    fields = dict(zip(ATOMS, line.split("|"), strict=True))
    http_version = "HTTP/2" if version == "http2" else "HTTP/1.1"
    assert fields["h"] == "127.0.0.1"
    assert fields["l"] == "-"
    assert fields["u"] == "alice"
    assert re.fullmatch(r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", fields["t"])
    assert fields["r"] == f"GET /slow?color=red {http_version}"
    assert fields["s"] == "200"
    assert fields["b"] == "9"
    assert fields["f"] == "https://ref.example/x"
    assert fields["a"] == "probe-agent/1.0"
    # /slow answers after 60 ms: every duration atom says so, in its unit.
    assert 0.06 <= float(fields["L"]) < 5
    assert 60 <= int(fields["M"]) < 5000
    assert 60000 <= int(fields["D"]) < 5000000
    assert int(fields["M"]) == int(fields["D"]) // 1000
    assert fields["T"] == "0"
    assert re.fullmatch(r"<\d+>", fields["p"])
    assert fields["m"] == "GET"
    assert fields["U"] == "/slow"
    assert fields["q"] == "color=red"
    assert fields["H"] == http_version
    assert fields["{x-request-id}i"] == "req-42"
    assert fields["{x-cache}o"] == "hit"
    assert fields["{content-type}o"] == "text/plain"
    assert fields["{x-none}o"] == "-"
    assert fields["worker"] == "0"
    assert fields["protocol"] == ("h2c" if version == "http2" else "http/1.1")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", fields["client"])


@pytest.mark.parametrize("version", sorted(CURL_VERSIONS))
def test_default_line_is_uvicorns(server, version):
    s = server(APP)
    curl(s.url + "/default-probe?x=1", *CURL_VERSIONS[version])
    [line] = access_lines(s, "/default-probe")
    http_version = "HTTP/2" if version == "http2" else "HTTP/1.1"
    assert re.fullmatch(rf'INFO:     127\.0\.0\.1:\d+ - "GET /default-probe\?x=1 {http_version}" 200',
                        line), line


def test_missing_values_and_escaping(server):
    s = server(APP, "--access-log-format", '%(u)s "%(f)s" "%(a)s" [%(q)s]')
    curl(s.url + "/", "-A", 'quote"back\\slash', "-H", "Authorization: Bearer x")
    [line] = access_lines(s, "quote")
    assert line == '- "-" "quote\\"back\\\\slash" []'


def test_worker_ids_across_shards(server):
    s = server(APP, "--access-log-format", "%(U)s w%(worker)s", workers=2)
    for i in range(8):  # fresh connections spread over both shards
        curl(s.url + f"/spread-{i}")
    lines = wait_for(lambda: [ln for ln in s.stdout.splitlines() if ln.startswith("/spread-")],
                     lambda ls: len(ls) == 8)
    assert {ln.split()[1] for ln in lines} == {"w0", "w1"}


def test_processes_mode_numbers_workers(server):
    s = server(APP, "--mode", "processes", "--access-log-format", "%(U)s w%(worker)s", workers=2)
    # Each connection held open loads one process, so the next one goes to
    # the other: one request on each of two open connections.
    with socket.create_connection(("127.0.0.1", s.port)) as a, \
            socket.create_connection(("127.0.0.1", s.port)) as b:
        for i, conn in enumerate((a, b)):
            conn.sendall(f"GET /proc-{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        lines = wait_for(lambda: [ln for ln in s.stdout.splitlines() if ln.startswith("/proc-")],
                         lambda ls: len(ls) == 2)
    assert {ln.split()[1] for ln in lines} == {"w0", "w1"}


@pytest.mark.parametrize("version", sorted(CURL_VERSIONS))
def test_json_access_and_error_records(server, version):
    s = server(APP, "--log-format", "json")
    curl(s.url + "/json-probe?q=1", *CURL_VERSIONS[version])
    curl(s.url + "/boom", *CURL_VERSIONS[version])
    records = wait_for(lambda: [json.loads(ln) for ln in s.stdout.splitlines()],
                       lambda rs: len(rs) == 2)
    ok, failed = records
    assert ok["logger"] == "subcorn.access" and ok["level"] == "INFO"
    assert ok["method"] == "GET" and ok["path"] == "/json-probe?q=1"
    assert ok["status"] == 200 and ok["bytes"] == 9 and ok["worker"] == 0
    assert ok["version"] == ("HTTP/2" if version == "http2" else "HTTP/1.1")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", ok["client"])
    assert isinstance(ok["duration_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ok["time"])
    assert failed["status"] == 500 and failed["path"] == "/boom"
    # Every stderr line is a JSON object too; the app's exception carries its
    # traceback, the worker and the request.
    errors = wait_for(lambda: [json.loads(ln) for ln in s.stderr.splitlines()],
                      lambda rs: any("traceback" in r for r in rs))
    [exc] = [r for r in errors if "traceback" in r]
    assert exc["level"] == "ERROR"
    assert exc["message"] == "Exception in ASGI application"
    assert "RuntimeError: kaboom-7331" in exc["traceback"]
    assert exc["method"] == "GET" and exc["path"] == "/boom" and exc["worker"] == 0
    assert exc["client"] == failed["client"]


def test_text_error_names_worker_and_request(server):
    s = server(APP)
    curl(s.url + "/boom?x=2")
    wait_for(lambda: s.stderr, lambda e: "kaboom-7331" in e)
    assert re.search(r"ERROR:    Exception in ASGI application \(worker 0: GET /boom\?x=2 from "
                     r"127\.0\.0\.1:\d+\)\nTraceback", s.stderr), s.stderr


def test_websocket_error_names_worker_and_request(server):
    from websockets.sync.client import connect
    s = server(APP)
    with connect(f"ws://127.0.0.1:{s.port}/ws-boom?room=3") as ws:
        with pytest.raises(Exception):
            ws.recv(timeout=5)
    assert ws.close_code == 1011  # the app raised
    wait_for(lambda: s.stderr, lambda e: "ws-kaboom-4417" in e)
    assert re.search(r"ERROR:    Exception in ASGI application \(worker 0: GET /ws-boom\?room=3 "
                     r"from 127\.0\.0\.1:\d+\)\nTraceback", s.stderr), s.stderr


@pytest.mark.parametrize("version", sorted(CURL_VERSIONS))
def test_timeout_line_names_worker_and_request(server, version):
    s = server(APP, "--timeout-request", "0.3")
    subprocess.run(["curl", "-s", "--max-time", "10", *CURL_VERSIONS[version], s.url + "/sleep"],
                   capture_output=True, timeout=20)
    wait_for(lambda: s.stderr, lambda e: "--timeout-request" in e)
    assert re.search(r"ERROR:    Request took longer than --timeout-request \(worker 0: "
                     r"GET /sleep from 127\.0\.0\.1:\d+\)", s.stderr), s.stderr


def test_json_engine_error_line(server):
    s = server(APP, "--log-format", "json", "--timeout-request", "0.3")
    subprocess.run(["curl", "-s", "--max-time", "10", s.url + "/sleep"], capture_output=True,
                   timeout=20)
    records = wait_for(lambda: [json.loads(ln) for ln in s.stderr.splitlines()],
                       lambda rs: any("--timeout-request" in r["message"] for r in rs))
    [timeout] = [r for r in records if "--timeout-request" in r["message"]]
    assert timeout["level"] == "ERROR" and timeout["worker"] == 0
    assert timeout["method"] == "GET" and timeout["path"] == "/sleep"


def test_access_log_file_reopened_on_sigusr1(server, tmp_path):
    log = tmp_path / "access.log"
    s = server(APP, "--access-log-file", str(log), "--access-log-format", "%(U)s %(s)s")
    curl(s.url + "/before-rotation")
    wait_for(lambda: log.read_text() if log.exists() else "", lambda t: "/before-rotation" in t)
    assert "/before-rotation" not in s.stdout  # the file, not stdout
    os.rename(log, tmp_path / "access.log.1")  # what logrotate does
    os.kill(s.pid, signal.SIGUSR1)
    wait_for(lambda: s.stderr, lambda e: "Reopened the access log file" in e)
    curl(s.url + "/after-rotation")
    wait_for(lambda: log.read_text() if log.exists() else "", lambda t: "/after-rotation" in t)
    assert (tmp_path / "access.log.1").read_text() == "/before-rotation 200\n"
    assert log.read_text() == "/after-rotation 200\n"
    assert s.proc.poll() is None  # SIGUSR1 neither stopped the supervisor nor its worker


LOG_CONFIGS = {
    "json": json.dumps({
        "version": 1,
        "formatters": {"cfg": {"format": "CFG|%(name)s|%(message)s"}},
        "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "cfg",
                             "stream": "ext://sys.stderr"}},
        "loggers": {"subcorn": {"handlers": ["err"], "level": "INFO", "propagate": False},
                    "app": {"handlers": ["err"], "level": "INFO", "propagate": False}},
    }),
    "yaml": """
version: 1
formatters:
  cfg: {format: "CFG|%(name)s|%(message)s"}
handlers:
  err: {class: logging.StreamHandler, formatter: cfg, stream: "ext://sys.stderr"}
loggers:
  subcorn: {handlers: [err], level: INFO, propagate: false}
  app: {handlers: [err], level: INFO, propagate: false}
""",
    "ini": """
[loggers]
keys=root,subcorn,app

[handlers]
keys=err

[formatters]
keys=cfg

[logger_root]
level=WARNING
handlers=

[logger_subcorn]
level=INFO
handlers=err
qualname=subcorn
propagate=0

[logger_app]
level=INFO
handlers=err
qualname=app
propagate=0

[handler_err]
class=StreamHandler
formatter=cfg
args=(sys.stderr,)

[formatter_cfg]
format=CFG|%(name)s|%(message)s
""",
}


@pytest.mark.parametrize("kind", sorted(LOG_CONFIGS))
def test_log_config(server, tmp_path, kind):
    path = tmp_path / f"logging.{kind}"
    path.write_text(LOG_CONFIGS[kind])
    s = server(APP, "--log-config", str(path), workers=2)
    for i in range(4):
        curl(s.url + "/applog")
    # The supervisor's records and the app's, in every interpreter, went
    # through the file's formatter.
    wait_for(lambda: s.stderr, lambda e: e.count("CFG|app|app-log-record") == 4)
    assert "CFG|subcorn|Started server process" in s.stderr
    assert "CFG|subcorn|Serving logging_apps:app as ASGI" in s.stderr


BAD_STARTS = {
    "unknown atom": (["--access-log-format", "%(h)s %(nope)s"], "unknown atom %(nope)s"),
    "not text": (["--access-log-format", "%(s)d"], "must end in 's'"),
    "lone percent": (["--access-log-format", "100% %(s)s"], "starts no atom"),
    "log format": (["--log-format", "xml"], "--log-format must be text or json"),
    "missing config": (["--log-config", "/nonexistent/logging.yaml"], "no such file"),
}


@pytest.mark.parametrize("case", sorted(BAD_STARTS))
def test_bad_logging_flags_are_one_line(case):
    flags, expected = BAD_STARTS[case]
    done = run_failing(APP, *flags)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR:") and expected in lines[0], done.stderr


@pytest.mark.parametrize("kind, text", [
    ("json", "{not json"),
    ("yaml", "version: [1"),
    ("ini", "[loggers]\nkeys=root\n"),  # no [logger_root] section
    ("json", '{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}'),
])
def test_bad_log_config_is_one_line(tmp_path, kind, text):
    path = tmp_path / f"bad.{kind}"
    path.write_text(text)
    done = run_failing(APP, "--log-config", str(path))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--log-config {path}" in lines[0], done.stderr
    assert not IS_PEER
