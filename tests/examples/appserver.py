"""The server under test, run as a subprocess serving one of the examples.

subcorn by default. SUBCORN_EXAMPLES_SERVER=gunicorn runs the same tests
against the usual servers instead (gunicorn for WSGI, uvicorn for ASGI), which
tells a bug in an example or a test from a bug in subcorn.
SUBCORN_EXAMPLES_ARGS adds flags to every subcorn command (e.g. "--threads 4").
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pgserver import free_port

REPO = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("SUBCORN_EXAMPLES_SERVER") or "subcorn"
if SERVER not in ("subcorn", "gunicorn"):
    raise RuntimeError(f"SUBCORN_EXAMPLES_SERVER must be 'subcorn' or 'gunicorn', not {SERVER!r}")
EXTRA_ARGS = shlex.split(os.environ.get("SUBCORN_EXAMPLES_ARGS", ""))

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
# The variables an example reads: a test sets them, the outer environment must not.
EXAMPLE_ENV = ("DATABASE_URL", "DATA_DIR", "DB_POOL_TIMEOUT", "DB_POOL_MIN", "DB_POOL_MAX",
               "DJANGO_SETTINGS_MODULE", "DEBUG", "SERVE_STATIC")


def server_env(extra: dict[str, str]) -> dict[str, str]:
    # SUBCORN_* variables are flags to subcorn; only the dev build's own stay.
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("SUBCORN_DEV_") or not k.startswith("SUBCORN_")) and k not in EXAMPLE_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_setup(command: list[str], env: dict[str, str]) -> None:
    """Runs an example's setup step (migrate, create the tables) to completion."""
    done = subprocess.run([sys.executable, *command], cwd=REPO, env=server_env(env),
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


@dataclass
class AppServer:
    app: str
    interface: str  # how the app is called: "wsgi" or "asgi"
    logdir: Path
    workers: int = 2
    threads: int = 1  # WSGI: threads per worker
    env: dict[str, str] = field(default_factory=dict)
    # What subcorn's --interface gets: the interface itself, or "auto".
    interface_flag: str | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        host, port, workers = "127.0.0.1", str(self.port), str(self.workers)
        threads = ["--threads", str(self.threads)] if self.threads > 1 else []
        if SERVER == "subcorn":
            return [sys.executable, "-m", "subcorn", self.app, "--interface", self.interface_flag or self.interface,
                    "--workers", workers, *threads, "--host", host, "--port", port, "--app-dir", str(REPO),
                    *EXTRA_ARGS]
        if self.interface == "wsgi":  # with --threads, gunicorn's gthread worker
            return [sys.executable, "-m", "gunicorn", "-w", workers, *threads, "-b", f"{host}:{port}",
                    "--chdir", str(REPO), "--access-logfile", "-", self.app]
        return [sys.executable, "-m", "uvicorn", self.app, "--workers", workers,
                "--host", host, "--port", port, "--app-dir", str(REPO)]

    def start(self) -> AppServer:
        self.logdir.mkdir(parents=True, exist_ok=True)
        with open(self.logdir / "stdout.txt", "wb") as out, open(self.logdir / "stderr.txt", "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=REPO, env=server_env(self.env), start_new_session=True)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Waits until the app answers /healthz (every example has it; it does
        not touch the database): the port accepting is not enough, since a
        server may accept before a worker has imported the app."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self.check_alive()
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready after {START_TIMEOUT}s\n{self.describe()}")
            time.sleep(0.1)

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}\n{self.describe()}")

    def stop(self) -> int | None:
        """SIGTERM, then the exit code; None if it had to be killed."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return None
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return (self.logdir / "stderr.txt").read_text(errors="replace")

    @property
    def stdout(self) -> str:
        return (self.logdir / "stdout.txt").read_text(errors="replace")

    @property
    def log(self) -> str:
        return self.stdout + self.stderr

    def describe(self, lines: int = 80) -> str:
        """The command and the end of its output, for assertion messages."""
        def tail(text: str) -> str:
            return "\n".join(text.splitlines()[-lines:])
        return (f"server: {' '.join(self.command())}\n--- stderr (end) ---\n{tail(self.stderr)}"
                f"\n--- stdout (end) ---\n{tail(self.stdout)}")

    def wait_for_log(self, text: str, timeout: float = 5.0) -> bool:
        """Whether `text` shows up in the output within `timeout` (logs are written
        after the response, possibly by another process)."""
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def clean_exit(code: int | None) -> bool:
    # uvicorn (since 0.29) re-raises the SIGTERM it handled, once it has shut down.
    return code == 0 or (SERVER != "subcorn" and code == -signal.SIGTERM)


@contextmanager
def running(server: AppServer) -> Iterator[AppServer]:
    """Serves for the block; fails if the server does not exit cleanly on SIGTERM."""
    try:
        server.start()
    except BaseException:
        if server.proc is not None:
            server.stop()
        raise
    try:
        yield server
    finally:
        code = server.stop()
        assert clean_exit(code), f"exit after SIGTERM: {code}\n{server.describe()}"
