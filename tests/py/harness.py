"""Helpers for the integration tests: starting the server under test, raw sockets.

The server under test is subcorn by default. SUBCORN_TEST_SERVER=uvicorn runs the
same tests against uvicorn (with httptools, and `--ws websockets` for
WebSocket, see UVICORN_WS), which is how the server-agnostic tests are checked while the
engine is being written; tests marked `subcorn_only` are skipped then, and
only then. SUBCORN_TEST_SERVER=hypercorn does the same for the HTTP/2 tests
(uvicorn has no HTTP/2): subcorn's flags are translated to hypercorn's by
hypercorn_args().
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"

SERVER_KIND = os.environ.get("SUBCORN_TEST_SERVER", "subcorn") or "subcorn"
if SERVER_KIND not in ("subcorn", "uvicorn", "hypercorn"):
    raise RuntimeError("SUBCORN_TEST_SERVER must be 'subcorn', 'uvicorn' or 'hypercorn', "
                       f"not {SERVER_KIND!r}")
IS_UVICORN = SERVER_KIND == "uvicorn"
IS_HYPERCORN = SERVER_KIND == "hypercorn"
# A peer server (not subcorn): `subcorn_only` tests are skipped under it.
IS_PEER = SERVER_KIND != "subcorn"
# uvicorn's WebSocket implementation for that check: `websockets` by default;
# SUBCORN_TEST_UVICORN_WS=wsproto (or websockets-sansio) for a second opinion.
UVICORN_WS = os.environ.get("SUBCORN_TEST_UVICORN_WS", "websockets")

# Every flag can also be given as an environment variable: SUBCORN_PORT=9000
# (uvicorn's click CLI does the same with the UVICORN_ prefix).
ENV_PREFIX = "UVICORN_" if IS_UVICORN else "SUBCORN_"

START_TIMEOUT = float(os.environ.get("SUBCORN_TEST_START_TIMEOUT", "20"))
STOP_TIMEOUT = 15.0
TRACEBACK = "Traceback (most recent call last)"

# How the server exits after SIGTERM and a clean shutdown. subcorn and
# hypercorn: 0. uvicorn (since 0.29) re-raises the signal it caught once it has
# shut down, so the process ends "killed by SIGTERM" even when all went well.
CLEAN_EXITS = (0, -signal.SIGTERM) if IS_UVICORN else (0,)

# How the server exits when it cannot start (bad import string, address in use,
# failed lifespan startup): subcorn 1, uvicorn 0.53 its STARTUP_FAILURE, 3,
# hypercorn 0.17 an uncaught exception, 1.
STARTUP_FAILURE_EXIT = 3 if IS_UVICORN else 1

# Workers for tests of startup failures. subcorn must fail the whole server when
# any shard fails; uvicorn's multi-process supervisor exits 0 when a child fails
# to start, so uvicorn is checked with one worker.
FAILING_WORKERS = 1 if IS_UVICORN else 2


def base_command() -> list[str]:
    """The command that runs the server, without any argument: under the
    Python that runs the tests (`./dev test` runs them under each supported
    Python, docs/python-versions.md)."""
    return [sys.executable, "-m", SERVER_KIND]


# subcorn's flags that take a value -> hypercorn's (None: hypercorn has no such
# setting and the flag is dropped; a "config:" name goes into the TOML config
# file that hypercorn reads with -c).
HYPERCORN_FLAGS = {
    "--ssl-certfile": "--certfile",
    "--ssl-keyfile": "--keyfile",
    "--ssl-keyfile-password": "--keyfile-password",
    "--ssl-ca-certs": "--ca-certs",
    "--timeout-graceful-shutdown": "--graceful-timeout",
    "--timeout-keep-alive": "--keep-alive",
    "--log-level": "--log-level",
    "--http2-max-concurrent-streams": "config:h2_max_concurrent_streams",
    "--http2-max-header-list-size": "config:h2_max_header_list_size",
    # hypercorn always serves HTTP/1.1 and HTTP/2 (auto), with h2's default
    # 65535-byte windows, and sends no keep-alive PINGs.
    "--http": None,
    "--http2-initial-window-size": None,
    "--http2-keep-alive-interval": None,
    # hypercorn has no bound on a request's time: a stalled stream is kept.
    "--timeout-request": None,
    "--ws": None,
}


def hypercorn_args(app: str, flags: list[str], *, port: int, workers: int,
                   logdir: Path) -> list[str]:
    """hypercorn's command line for subcorn's `app --app-dir APPS --host
    127.0.0.1 --port PORT --workers N *flags`. The app is given by its path
    (hypercorn imports "dir/module:attr" from dir); one worker runs in the
    server process itself (-w 0), as subcorn does, so its pid is the one that
    serves. A flag without a translation is an error, not silently dropped."""
    module, attr = app.split(":", 1)
    args = [f"{APPS / module}:{attr}", "--bind", f"127.0.0.1:{port}",
            "--workers", str(0 if workers == 1 else workers), "--error-logfile", "-"]
    config: dict[str, str] = {}
    rest = list(flags)
    while rest:
        flag = rest.pop(0)
        name, eq, value = flag.partition("=")
        if name not in HYPERCORN_FLAGS:
            raise ValueError(f"no hypercorn translation for {flag!r}")
        if not eq:
            value = rest.pop(0)
        target = HYPERCORN_FLAGS[name]
        if target is None:
            continue
        if target.startswith("config:"):
            config[target.removeprefix("config:")] = value
        else:
            args += [target, value]
    if config:
        logdir.mkdir(parents=True, exist_ok=True)
        path = logdir / "hypercorn.toml"
        path.write_text("".join(f"{k} = {v}\n" for k, v in config.items()))
        args += ["--config", str(path)]
    return args


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a server process: ours without the SUBCORN_*/UVICORN_*
    variables that could be read as flags (so a server gets only the flags its
    test gives). The dev environment's own SUBCORN_DEV_* (where the dev build of
    the extension is) are kept."""
    env = {k: v for k, v in os.environ.items()
           if k.startswith("SUBCORN_DEV_") or not k.startswith(("SUBCORN_", "UVICORN_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 30,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Runs the server command to completion (for --help, --version, startup errors)."""
    return subprocess.run(base_command() + args, env=server_env(env), cwd=cwd or HERE,
                          capture_output=True, text=True, timeout=timeout)


def run_failing(app: str, *flags: str, port: int | None = None) -> subprocess.CompletedProcess:
    """Runs a server that is expected to fail at startup, to its exit."""
    args = [app, "--app-dir", str(APPS), "--host", "127.0.0.1", "--port", str(port or free_port()),
            "--workers", str(FAILING_WORKERS), *flags]
    return run_cli(args, timeout=START_TIMEOUT + 10)


class ServerDied(AssertionError):
    pass


@dataclass
class Server:
    """One server process. Output goes to files (no pipe to fill up)."""

    args: list[str]
    logdir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None
    uds: str | None = None
    pass_fds: tuple[int, ...] = ()
    proc: subprocess.Popen | None = None
    returncode: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stderr(self) -> str:
        return (self.logdir / "stderr.txt").read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return (self.logdir / "stdout.txt").read_text(errors="replace")

    @property
    def output(self) -> str:
        """Everything the server printed (uvicorn writes its access log to stdout)."""
        return self.stdout + self.stderr

    def start(self) -> "Server":
        self.logdir.mkdir(parents=True, exist_ok=True)
        with open(self.logdir / "stdout.txt", "wb") as out, open(self.logdir / "stderr.txt", "wb") as err:
            self.proc = subprocess.Popen(
                base_command() + self.args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                env=server_env(self.env), cwd=self.logdir, pass_fds=self.pass_fds,
                start_new_session=True)
        return self

    def describe(self) -> str:
        return f"server {' '.join(self.args)}\n--- stderr ---\n{self.stderr}\n--- stdout ---\n{self.stdout}"

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            raise ServerDied(f"server exited with {self.returncode}\n{self.describe()}")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> "Server":
        """Waits until the server accepts connections (or answers, for --fd)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if self._ready_once():
                return self
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready after {timeout}s\n{self.describe()}")
            time.sleep(0.05)

    def _ready_once(self) -> bool:
        if self.pass_fds:
            # The listening socket exists before the server does: only an answer counts.
            try:
                with RawConn(self.port, timeout=0.5) as c:
                    c.send(b"GET / HTTP/1.1\r\nHost: ready\r\nConnection: close\r\n\r\n")
                    return c.read_until_close(timeout=0.5) != b""
            except (OSError, TimeoutError):
                return False
        try:
            if self.uds:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(0.5)
                    s.connect(self.uds)
            else:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def terminate(self) -> None:
        """Sends SIGTERM (to the server process only, as a user's `kill` would)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        self.returncode = self.proc.wait(timeout=timeout)
        return self.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait; SIGKILL the process group if it did not exit in time.
        Returns the exit code, or None when it had to be killed."""
        self.terminate()
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def get_json(self, path: str = "/", *, fresh: bool = True) -> dict:
        """GET over a new connection (Connection: close), JSON body."""
        with RawConn(self.port) as c:
            c.request("GET", path, headers=[("Connection", "close")] if fresh else [])
            r = c.read_response()
        assert r.status == 200, (r, self.describe())
        return json.loads(r.body)


def wait_for_log(s: Server, text: str, probe=None, timeout: float = 5.0) -> None:
    """Waits until `text` is in the server's stderr (or `probe()` is true):
    shards log concurrently with the first responses."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (probe() if probe else text in s.stderr):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not seen within {timeout}s:\n{s.stderr}")


def answers_from_workers(server: Server, want: int, at_least: int = 1,
                         timeout: float = 15) -> list[dict]:
    """GETs whoami:app over new connections until `want` distinct interpreters
    have answered (shards may come up after the first one serves) and
    `at_least` requests were made, or `timeout` passes. Returns the answers."""
    answers = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answers.append(server.get_json("/"))
        if len(answers) >= at_least and len({a["interpreter_id"] for a in answers}) >= want:
            break
    return answers


class AppEvents:
    """What a fixture app observed: the JSON lines apps/ws_events.py appends to
    the file named by WS_EVENTS (readable whichever process the app ran in)."""

    def __init__(self, path: Path):
        self.path = path

    @property
    def env(self) -> dict[str, str]:
        """The server's environment that makes the app record here."""
        return {"WS_EVENTS": str(self.path)}

    def all(self, event: str | None = None) -> list[dict]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        found = [json.loads(line) for line in lines if line]
        return [e for e in found if event is None or e["event"] == event]

    def wait_for(self, event: str, timeout: float = 5.0, **match) -> dict:
        """The first `event` whose fields include `match`, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.all(event):
                if all(e.get(k) == v for k, v in match.items()):
                    return e
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event} {match} within {timeout}s; events: {self.all()}")
            time.sleep(0.05)


# ---------------------------------------------------------------- raw sockets

@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunked: bool = False
    complete: bool = True

    def header(self, name: str) -> str | None:
        values = self.header_list(name)
        return values[0] if values else None

    def header_list(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class IncompleteResponse(Exception):
    """The connection closed before a whole response arrived; .response is what did."""

    def __init__(self, response: Response | None, raw: bytes):
        super().__init__(f"connection closed mid-response: {raw[:300]!r}")
        self.response = response
        self.raw = raw


def parse_status(data: bytes) -> tuple[str, int]:
    """('HTTP/1.1', 200) from the first line of a response."""
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    version, status = line.split(" ", 2)[:2]
    return version, int(status)


class RawConn:
    """A client TCP (or unix) connection that sends exact bytes and parses responses."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", *,
                 uds: str | None = None, timeout: float = 5.0):
        if uds:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(uds)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self.sock.close()

    @property
    def local_port(self) -> int:
        return self.sock.getsockname()[1]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, path: str, headers=(), body: bytes = b"",
                version: str = "HTTP/1.1") -> None:
        lines = [f"{method} {path} {version}", "Host: testserver"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
            lines.append(f"Content-Length: {len(body)}")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _fill(self, deadline: float) -> bool:
        """Reads more bytes into the buffer; False at end of stream (a reset counts)."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no more data; have {self.buf[:300]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"no more data; have {self.buf[:300]!r}") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take(self, n: int) -> bytes:
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_line(self, deadline: float) -> bytes | None:
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, timeout: float = 5.0, head_request: bool = False) -> Response:
        """Reads one whole response (an interim 1xx response counts as one).
        Raises IncompleteResponse when the connection ends first."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise IncompleteResponse(None, self.buf)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, *reason = lines[0].split(" ", 2)
        headers = [(k.strip(), v.strip()) for k, v in (h.split(":", 1) for h in lines[1:])]
        r = Response(version, int(status), reason[0] if reason else "", headers)
        te = (r.header("transfer-encoding") or "").lower()
        if head_request or r.status < 200 or r.status in (204, 304):
            return r
        if "chunked" in te:
            r.chunked = True
            self._read_chunked(r, deadline)
        elif r.header("content-length") is not None:
            n = int(r.header("content-length"))
            while len(self.buf) < n:
                if not self._fill(deadline):
                    r.body, r.complete = self._take(len(self.buf)), False
                    raise IncompleteResponse(r, r.body)
            r.body = self._take(n)
        else:
            while self._fill(deadline):
                pass
            r.body = self._take(len(self.buf))
        return r

    def _read_chunked(self, r: Response, deadline: float) -> None:
        body = b""
        while True:
            line = self._read_line(deadline)
            if line is None:
                break
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while (trailer := self._read_line(deadline)) not in (b"", None):
                    pass
                if trailer is None:
                    break
                r.body = body
                return
            while len(self.buf) < size + 2:
                if not self._fill(deadline):
                    body += self._take(size)
                    r.body, r.complete = body, False
                    raise IncompleteResponse(r, body)
            body += self._take(size)
            self._take(2)
        r.body, r.complete = body, False
        raise IncompleteResponse(r, body)

    def read_exactly(self, n: int, timeout: float = 5.0) -> bytes:
        """The next n bytes; IncompleteResponse if the connection ends first."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise IncompleteResponse(None, self.buf)
        return self._take(n)

    def read_until_close(self, timeout: float = 5.0) -> bytes:
        """Everything until the server closes; TimeoutError if it does not."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        return self._take(len(self.buf))

    def closed_within(self, timeout: float) -> float | None:
        """Seconds until the server closed the connection (data before that is
        kept in the buffer), or None if it was still open after `timeout`."""
        t0 = time.monotonic()
        try:
            while self._fill(t0 + timeout):
                pass
        except TimeoutError:
            return None
        return time.monotonic() - t0


@dataclass
class Exchange:
    data: bytes
    closed: bool


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> Exchange:
    """Sends `data` on a new connection and reads until the server closes or
    `timeout` passes. A server that resets the connection while we still send
    (it refused the request early) is fine: what it answered is kept."""
    with RawConn(port, timeout=timeout) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return Exchange(c.read_until_close(timeout), True)
        except TimeoutError:
            return Exchange(c.buf, False)
