"""The servers under test: their command lines, and starting and stopping them.

Every server is started in its own session (so its whole process tree is one
process group we can kill), pinned with taskset, and counted as ready only once
it answers a real HTTP request.
"""

import contextlib
import enum
import fcntl
import functools
import http.client
import importlib.util
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench.tls import TlsFiles

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PYTHON = sys.executable  # python3.14 in the project's root: the same for every Python server

# subcorn first: the table's ratios are against it. nginx last: the ceiling.
NAMES = ("subcorn", "granian", "uvicorn", "hypercorn", "gunicorn", "nginx")
# subcorn as it was at another commit, for "before and after" in one run:
# `--servers subcorn,subcorn-base` with BENCH_SUBCORN_BASE naming a directory
# that holds that commit's `python/` package and its built extension in `ext/`
# (bench/base.sh makes one from a commit). Not in the default list.
BASE_NAME = "subcorn-base"
BASE_DIR = os.environ.get("BENCH_SUBCORN_BASE", "")
# subcorn with --metrics, for its cost in one run: `--servers subcorn,subcorn-metrics`.
# Not in the default list either.
METRICS_NAME = "subcorn-metrics"
ALL_NAMES = (NAMES[0], BASE_NAME, METRICS_NAME, *NAMES[1:])
# Servers that do not run the Python app, only a fixed `hello` response.
NATIVE = frozenset({"nginx"})
# Those that speak HTTP/2 (uvicorn does not; gunicorn's is not measured here).
HTTP2_SERVERS = frozenset({"subcorn", BASE_NAME, "granian", "hypercorn", "nginx"})

# granian is not packaged by Debian, so it lives in a venv that sees the system
# packages (same interpreter, same uvloop) and is created once, then reused.
VENV = Path(os.environ.get("BENCH_VENV", "/opt/bench-venv"))
VENV_PACKAGES = ("granian",)
PIP_TIMEOUT = 600


class Unavailable(Exception):
    """The server cannot be run here at all (not installed, no worker class...)."""


class StartError(Exception):
    """The server was launched but did not come up."""


def free_port() -> int:
    # Bind to port 0 and let the kernel choose; the tiny race until the server
    # binds it is acceptable on a machine where nothing else hunts for ports.
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _venv_python() -> Path:
    """The venv's python, creating the venv and installing granian if needed."""
    result = _ensure_venv()
    if isinstance(result, str):
        raise Unavailable(result)
    return result


@functools.cache  # once per harness run, failure included: pip is slow to fail
def _ensure_venv() -> Path | str:
    python = VENV / "bin" / "python"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    # A lock so two harness runs never build the same venv at the same time.
    with open(VENV.parent / f".{VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and _imports(python, "granian"):
            return python
        print(f"bench: installing {' '.join(VENV_PACKAGES)} into {VENV} (once)", file=sys.stderr)
        steps = [
            [PYTHON, "-m", "venv", "--system-site-packages", str(VENV)],
            [str(python), "-m", "pip", "install", "--quiet", *VENV_PACKAGES],
        ]
        for argv in steps:
            try:
                done = subprocess.run(
                    argv, check=False, capture_output=True, text=True, timeout=PIP_TIMEOUT
                )
            except subprocess.TimeoutExpired:
                return f"{argv[2]} timed out creating {VENV}"
            if done.returncode != 0:
                return f"could not create {VENV}: {done.stderr.strip()[-200:]}"
    return python


def _imports(python: Path | str, module: str) -> bool:
    try:
        done = subprocess.run(
            [str(python), "-c", f"import {module}"], check=False, capture_output=True, timeout=60
        )
    except OSError, subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def gunicorn_worker_class() -> str:
    """uvicorn's gunicorn worker: the uvicorn-worker package if installed, else
    the deprecated uvicorn.workers module that uvicorn 0.53 still ships."""
    if importlib.util.find_spec("gunicorn") is None:
        raise Unavailable("gunicorn is not installed")
    for module in ("uvicorn_worker", "uvicorn.workers"):
        try:
            if importlib.util.find_spec(module) is not None:
                return f"{module}.UvicornWorker"
        except ModuleNotFoundError:
            continue
    raise Unavailable("no UvicornWorker: neither uvicorn_worker nor uvicorn.workers")


class Wire(enum.Enum):
    """How the load generator speaks to the server: a scenario's protocol."""

    HTTP1 = "HTTP/1.1"  # cleartext, wrk
    HTTPS1 = "HTTPS/1.1"  # TLS without ALPN h2, wrk
    H2C = "h2c"  # HTTP/2 over cleartext by prior knowledge, h2load
    H2 = "h2"  # HTTP/2 over TLS, chosen by ALPN, h2load

    @property
    def tls(self) -> bool:
        return self in (Wire.HTTPS1, Wire.H2)

    @property
    def http2(self) -> bool:
        return self in (Wire.H2C, Wire.H2)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"


def nginx_config(
    workdir: Path, workers: int, port: int, wire: Wire = Wire.HTTP1, tls: TlsFiles | None = None
) -> Path:
    # keepalive_requests is raised from nginx's default of 1000 so nginx, like
    # the Python servers, never closes a keep-alive connection mid-run (over
    # HTTP/2 it bounds the requests of one connection too).
    listen = f"{HOST}:{port}" + (" ssl" if wire.tls else "")
    protocol = ["http2 on;"] if wire.http2 else []  # cleartext: prior knowledge
    if wire.tls:
        assert tls is not None
        protocol += [f"ssl_certificate {tls.certfile};", f"ssl_certificate_key {tls.keyfile};"]
    server_lines = "".join(f"\n        {line}" for line in protocol)
    conf = workdir / "nginx.conf"
    conf.write_text(f"""\
worker_processes {workers};
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen {listen};{server_lines}
        location / {{
            default_type text/plain;
            return 200 "hello";
        }}
    }}
}}
""")
    return conf


def hypercorn_h2_config(workdir: Path) -> Path:
    # hypercorn ends a connection after 1000 requests (keep_alive_max_requests,
    # no flag for it); over HTTP/1.1 wrk reconnects, but h2load does not after a
    # GOAWAY, so each such connection would be gone for the rest of the run.
    # Raised as nginx's keepalive_requests is.
    conf = workdir / "hypercorn-h2.toml"
    conf.write_text("keep_alive_max_requests = 1000000\n")
    return conf


# gunicorn's gthread worker: threads per worker process. gunicorn's docs advise
# 2-4 x cores; with the GIL more threads only help a view that waits, and these
# wait on SQLite for microseconds. On the framework scenarios 2, 4 and 8 threads
# measured alike (within the machine's noise); 1 left connections unbalanced.
GTHREAD_THREADS = 4


WS_ON = "on"


@dataclass(frozen=True)
class Target:
    """One row of a table: a server, and how it calls the app.

    The `hello` and `cpu` rows leave `interface` unset: each server's plain ASGI
    command line, as those tables were always taken.
    """

    server: str  # a name in NAMES; --servers selects rows by it
    interface: str | None = None  # "asgi" or "wsgi", said on the command line
    # gunicorn's worker class: "sync" or "gthread" (WSGI), "asgi" (its own ASGI
    # worker); unset, gunicorn runs uvicorn's worker
    worker: str | None = None
    # WebSocket: unset, off where a server can turn it off (granian --no-ws,
    # as the HTTP tables were always taken); WS_ON, the server's own; for
    # uvicorn, the --ws implementation.
    ws: str | None = None
    # Unset, the scenario's protocol; set, this row's own (the https table's
    # regression row: subcorn over cleartext HTTP/1.1 in the same run).
    wire: Wire | None = None
    # subcorn's --mode (the close table's processes-mode row); unset, its default
    mode: str | None = None

    @property
    def label(self) -> str:
        parts = [self.server, self.worker or (self.interface or "").upper()]
        if self.mode is not None:
            parts.append(f"--mode {self.mode}")
        if self.worker == "gthread":
            parts.append(f"({GTHREAD_THREADS} threads)")
        if self.ws not in (None, WS_ON):
            parts.append(self.ws)
        if self.wire is not None:
            parts.append(f"({self.wire.value})")
        return " ".join(filter(None, parts))


def command(
    target: Target,
    app: str,
    workers: int,
    port: int,
    workdir: Path,
    wire: Wire = Wire.HTTP1,
    tls: TlsFiles | None = None,
) -> list[str]:
    """The argv that serves `app` (an import string) with `workers` workers on
    `port`, speaking `wire` (over TLS with `tls`'s certificate and key)."""
    addr = ["--host", HOST, "--port", str(port)]
    quiet = ["--log-level", "warning"]
    interface = target.interface
    if wire.tls and tls is None:
        raise ValueError(f"{wire.value} needs certificate files")
    cert, key = (str(tls.certfile), str(tls.keyfile)) if tls and wire.tls else ("", "")
    # uvicorn's flag names, which subcorn mirrors.
    ssl_flags = ["--ssl-certfile", cert, "--ssl-keyfile", key] if cert else []
    if wire.http2 and target.server not in HTTP2_SERVERS:
        raise Unavailable(f"{target.server} does not speak HTTP/2")
    match target.server, interface:
        case "subcorn" | "subcorn-base" | "subcorn-metrics", _:
            if target.server == BASE_NAME and not BASE_DIR:
                raise Unavailable("set BENCH_SUBCORN_BASE (see bench/base.sh)")
            # subcorn's CLI mirrors uvicorn's flags. With an explicit interface,
            # explicit interpreters mode too: a fall-back to processes (an
            # extension refusing sub-interpreters) fails the run instead of
            # measuring something else.
            explicit = ["--interface", interface, "--mode", "interpreters"] if interface else []
            if target.mode is not None:
                explicit = [*explicit[:2], "--mode", target.mode]
            metrics = (["--metrics", "--metrics-port", str(free_port())]
                       if target.server == METRICS_NAME else [])
            # HTTP/2 needs no flag: subcorn speaks it by prior knowledge and ALPN.
            # BENCH_SUBCORN_ACCESS_LOG=1: the access log on (its cost, before
            # and after a change to it; the line goes to the server's log).
            access = [] if os.environ.get("BENCH_SUBCORN_ACCESS_LOG") else ["--no-access-log"]
            return [PYTHON, "-m", "subcorn", app, *explicit, "--workers", str(workers), *addr,
                    *ssl_flags, *access, *metrics, *quiet]  # fmt: skip
        case "granian", None | "asgi" | "wsgi":
            # --http 1: wrk speaks HTTP/1.1 only, so skip granian's h2 sniffing;
            # --http 2 for h2load, which speaks only HTTP/2 (prior knowledge or ALPN).
            # Its access log is off by default; say so anyway. WSGI: its default
            # --blocking-threads (backpressure / 2, 256 per worker here; a thread
            # per request in flight); 1, 2 and 8 measured no better.
            # WebSocket rows: granian's own (on by default), else --no-ws.
            ws = [] if target.ws else ["--no-ws"]
            http = "2" if wire.http2 else "1"
            ssl = ["--ssl-certificate", cert, "--ssl-keyfile", key] if cert else []
            return [str(_venv_python()), "-m", "granian", "--interface", interface or "asgi",
                    "--workers", str(workers), *ws, "--http", http, *ssl, *addr,
                    "--no-access-log", *quiet, app]  # fmt: skip
        case "uvicorn", None | "asgi" | "wsgi":
            # uvicorn 0.53 still has --interface wsgi (a deprecated thread-pool
            # adapter that warns to use a2wsgi instead).
            explicit = ["--interface", "asgi3" if interface == "asgi" else "wsgi"]
            ws = ["--ws", target.ws] if target.ws not in (None, WS_ON) else []
            return [PYTHON, "-m", "uvicorn", app, *(explicit if interface else []), *ws,
                    "--http", "httptools", "--loop", "uvloop",
                    "--workers", str(workers), *addr, *ssl_flags, "--no-access-log",
                    *quiet]  # fmt: skip
        case "hypercorn", None | "asgi":
            # Access log is off unless --access-logfile is given. HTTP/2 needs no
            # flag: prior knowledge on cleartext, ALPN over TLS.
            ssl = ["--certfile", cert, "--keyfile", key] if cert else []
            config = ["--config", str(hypercorn_h2_config(workdir))] if wire.http2 else []
            return [PYTHON, "-m", "hypercorn", *config, "--workers", str(workers),
                    "--bind", f"{HOST}:{port}", *ssl, *quiet, app]  # fmt: skip
        case "gunicorn", _ if not wire.tls:
            # Its access log is off unless --access-logfile is given.
            worker = _gunicorn_worker(target)
            return [PYTHON, "-m", "gunicorn", *worker, "-w", str(workers),
                    "--bind", f"{HOST}:{port}", *quiet, app]  # fmt: skip
        case "nginx", None:
            conf = nginx_config(workdir, workers, port, wire, tls)
            # -e: the error log before the config is read, else nginx tries /var/log/nginx.
            return ["nginx", "-p", str(workdir), "-c", str(conf),
                    "-e", str(workdir / "nginx-error.log")]  # fmt: skip
    raise Unavailable(f"no command for {target}")


def _gunicorn_worker(target: Target) -> list[str]:
    match target.interface, target.worker:
        case None | "asgi", None:
            # The worker picks httptools and uvloop itself (http/loop "auto"),
            # and its WebSocket implementation ("auto": websockets-sansio).
            return ["-k", gunicorn_worker_class()]
        case None | "asgi", "asgi":
            # gunicorn's own ASGI worker (gunicorn 24+): its HTTP parser, its
            # WebSocket (no extensions: no permessage-deflate), uvloop if installed.
            return ["-k", "asgi"]
        case "wsgi", "sync":
            # One request at a time per process, and no keep-alive: the sync
            # worker closes every connection after its response.
            return ["-k", "sync"]
        case "wsgi", "gthread":
            return ["-k", "gthread", "--threads", str(GTHREAD_THREADS)]
    raise Unavailable(f"no gunicorn worker for {target}")


def server_env(server: str = "") -> dict[str, str]:
    # The apps are imported as bench.apps.X: the repo root must be importable
    # whatever each server does with sys.path.
    if server == BASE_NAME:  # the other commit's package and extension come first
        base = Path(BASE_DIR)
        path = [str(base / "python"), str(REPO)]
        return dict(os.environ, PYTHONPATH=os.pathsep.join(path),
                    SUBCORN_DEV_EXT_DIR=str(base / "ext"))
    path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path))


# Checks a response body before any load: None if it is right, else what is wrong.
BodyCheck = Callable[[bytes], str | None]


@dataclass
class Running:
    label: str
    proc: subprocess.Popen[bytes]
    port: int
    path: str
    log: Path
    wire: Wire = Wire.HTTP1
    # Over TLS, what the readiness check negotiated: "TLSv1.3 TLS_AES_256_GCM_SHA384".
    negotiated: str | None = None

    @property
    def url(self) -> str:
        return f"{self.wire.scheme}://{HOST}:{self.port}{self.path}"


def start(
    target: Target,
    app: str,
    workers: int,
    cpus: str,
    workdir: Path,
    log: Path,
    timeout: float,
    path: str = "/",
    check_body: BodyCheck | None = None,
    wire: Wire = Wire.HTTP1,
    tls: TlsFiles | None = None,
) -> Running:
    """Launch a server pinned to `cpus` and wait until it answers 200 on `path`
    over `wire` (a row's own wire, if it has one, wins)."""
    wire = target.wire or wire
    port = free_port()
    argv = ["taskset", "-c", cpus, *command(target, app, workers, port, workdir, wire, tls)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, cwd=REPO, env=server_env(target.server), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Running(target.label, proc, port, path, log, wire)
    try:
        _wait_ready(server, timeout, check_body, tls)
    except BaseException:
        stop(server)
        raise
    return server


class _NotYet(Exception):
    """Nothing answers yet: the server may still be starting."""


class _WrongProtocol(Exception):
    """Something answered, but not in the protocol asked for."""


# A server that answers, but not in the scenario's protocol (a plain HTTP/1.1
# server sent TLS or the HTTP/2 preface), has this long to get it right: it is
# not starting, so waiting the whole start timeout would only waste the run.
PROTOCOL_GRACE_SECONDS = 3


def _wait_ready(
    server: Running, timeout: float, check_body: BodyCheck | None, tls: TlsFiles | None = None
) -> None:
    # A port that accepts is not enough: a multi-process server may bind in its
    # supervisor before any worker can answer. Wait for a real 200.
    deadline = time.monotonic() + timeout
    last = "no answer"
    wrong_since: float | None = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise StartError(f"exited with code {server.proc.returncode}: {last_line(server.log)}")
        try:
            if server.wire is Wire.HTTP1:
                status, body = _get_http1(server)
            else:
                status, body, server.negotiated = _get(server, tls)
        except _NotYet as exc:
            last, wrong_since = str(exc), None
            time.sleep(0.05)
            continue
        except _WrongProtocol as exc:
            last = str(exc)
            now = time.monotonic()
            wrong_since = wrong_since or now
            if now - wrong_since >= PROTOCOL_GRACE_SECONDS:
                raise StartError(f"no working {server.wire.value}: {last}") from None
            time.sleep(0.1)
            continue
        if status != 200:
            raise StartError(f"answered {status} to GET {server.path}")
        problem = check_body(body) if check_body else None
        if problem:
            raise StartError(problem)
        return
    raise StartError(f"not ready after {timeout:g}s ({last}); {last_line(server.log)}")


def _get_http1(server: Running) -> tuple[int, bytes]:
    try:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=2)
        try:
            conn.request("GET", server.path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as exc:
        raise _NotYet(f"{type(exc).__name__}: {exc}") from exc


def _get(server: Running, tls: TlsFiles | None) -> tuple[int, bytes, str | None]:
    """GET over the server's wire with httpx (HTTP/2 by prior knowledge on
    cleartext, by ALPN over TLS, trusting only this run's CA); the status, the
    body and, over TLS, the version and cipher negotiated."""
    try:  # refused: nothing listens yet
        socket.create_connection((HOST, server.port), timeout=2).close()
    except OSError as exc:
        raise _NotYet(f"{type(exc).__name__}: {exc}") from exc
    wire = server.wire
    verify: ssl.SSLContext | bool = tls.client_context() if tls and wire.tls else False
    try:
        with httpx.Client(http1=not wire.http2, http2=wire.http2, verify=verify,
                          timeout=2) as client:  # fmt: skip
            response = client.get(server.url)
            stream = response.extensions.get("network_stream")
            ssl_object = stream.get_extra_info("ssl_object") if stream else None
    except httpx.TimeoutException as exc:
        raise _NotYet(f"{type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise _WrongProtocol(f"{type(exc).__name__}: {exc}") from exc
    expected = "HTTP/2" if wire.http2 else "HTTP/1.1"
    if response.http_version != expected:
        raise _WrongProtocol(f"answered over {response.http_version}, not {expected}")
    negotiated = f"{ssl_object.version()} {ssl_object.cipher()[0]}" if ssl_object else None
    return response.status_code, response.content, negotiated


def last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:160] if lines else "(no output)"


def stop(server: Running, timeout: float = 10) -> None:
    """Stop the whole process tree: SIGTERM to the group, then SIGKILL whatever is left."""
    try:
        tree = [psutil.Process(server.proc.pid)]
        tree += tree[0].children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    _signal_group(server.proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(timeout)
    # Workers outlive a supervisor that died first; anything that moved to its
    # own session is caught through the tree we listed before signalling.
    _signal_group(server.proc.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(tree, timeout=0)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)
    if server.proc.poll() is None:
        server.proc.wait(timeout)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


_VERSION_CODE = """
import importlib, importlib.metadata as md, sys
try:
    print(md.version(sys.argv[1]))
except md.PackageNotFoundError:  # e.g. subcorn run from the work tree
    print(getattr(importlib.import_module(sys.argv[1]), "__version__", "?"))
"""


def version(name: str) -> str:
    """The server's version, for the record in docs/benchmarks.md."""
    try:
        if name == "nginx":
            done = subprocess.run(
                ["nginx", "-v"], check=False, capture_output=True, text=True, timeout=10
            )
            return done.stderr.strip().rsplit("/", 1)[-1]
        # In a child interpreter: importing a half-built subcorn here could fail in any way.
        python = str(_venv_python()) if name == "granian" else PYTHON
        package = "subcorn" if name in (BASE_NAME, METRICS_NAME) else name
        argv = [python, "-c", _VERSION_CODE, package]
        done = subprocess.run(
            argv,
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
            env=server_env(name),
            cwd=REPO,
        )
    except Unavailable, OSError, subprocess.TimeoutExpired:
        return "unavailable"
    return done.stdout.strip() if done.returncode == 0 else "unavailable"
