"""The server under test for the Autobahn driver: a process on a free port of
127.0.0.1 (in its own session, so that stopping it stops its workers too),
and the opening handshake that tells whether it speaks WebSocket and accepts
permessage-deflate.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wstest_env import REPO

sys.path.insert(0, str(REPO / "tests" / "py"))
from harness import free_port, server_env  # noqa: E402  (the integration tests' helpers)

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def shown(path: Path) -> str:
    """A path as the reader finds it: relative to the work tree when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


class SuiteError(Exception):
    """The suite could not run; the message is one line."""


@dataclass
class Handshake:
    status: int
    extensions: str

    @property
    def upgraded(self) -> bool:
        return self.status == 101

    @property
    def deflate(self) -> bool:
        return self.upgraded and "permessage-deflate" in self.extensions.lower()


def probe_handshake(port: int, timeout: float = 5.0) -> Handshake:
    """One opening handshake offering permessage-deflate, as browsers do."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ")[1])
    except (IndexError, ValueError):
        raise SuiteError(f"the server's answer to a WebSocket handshake is not HTTP: {head[:80]!r}")
    extensions = ", ".join(value.strip() for name, _, value in
                           (line.partition(":") for line in lines[1:])
                           if name.strip().lower() == "sec-websocket-extensions")
    return Handshake(status, extensions)


class ServerProcess:
    """The server under test, in its own session so that stopping it stops
    its workers too. Output goes to a file."""

    def __init__(self, command: list[str], log: Path):
        self.port = free_port()
        self.command = [arg.replace("{port}", str(self.port)) for arg in command]
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=server_env(), cwd=REPO,
                                         start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SuiteError(f"the server exited with {self.proc.returncode} before "
                                 f"it listened (see {shown(self.log)})")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SuiteError(f"the server did not listen on port {self.port} within {START_TIMEOUT:.0f} s")

    def exited_early(self) -> int | None:
        """The exit code if the server ended on its own during the run."""
        return self.proc.poll()

    def stop(self) -> None:
        """SIGTERM and a wait; then SIGKILL to whatever is left of its session
        (the server if it did not exit, a worker it left behind)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
