"""The supervisor's listening socket: bound (or adopted) once, in the parent,
and handed to every worker process it starts.

The parent binds but does not listen(): each worker calls listen() on the
socket it inherits (src/io/socket.cpp adopt_listener). So at the first start
connections are refused until a worker serves, as they are without a
supervisor, and once listening the socket stays so across worker restarts:
connections made while no worker accepts wait in the backlog instead of
being refused.

In processes mode the supervisor accepts on it, on a thread of the engine's
(src/supervise/acceptor.h, driven through `Acceptor` here), which also
turns away what a limit refuses; the supervisor logs what it counted.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass

from subcorn.config import Config

# The engine's prebuilt answer to a connection it will not serve
# (src/http/response.cpp error_response(503)), byte for byte.
SERVICE_UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\n"
                       b"content-type: text/plain; charset=utf-8\r\n"
                       b"content-length: 19\r\n"
                       b"connection: close\r\n\r\n"
                       b"Service Unavailable")

def raise_open_file_limit() -> int:
    """Raises RLIMIT_NOFILE's soft limit to the hard one (each connection is a
    file descriptor, and many systems start processes at a soft 1024); returns
    the soft limit in force. The worker processes inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


class ThrottledReport:
    """An event that can happen thousands of times a second, told in the log
    at most once per interval with how many happened since the last line:
    the first at once, the rest when the interval is up (as the engine's
    src/server/throttled_report.h)."""

    def __init__(self, say: Callable[[int], None], interval: float = 1.0) -> None:
        self._say = say
        self._interval = interval
        self._pending = 0
        self._last = -math.inf

    def count(self, events: int = 1) -> None:
        self._pending += events

    def tell_due(self, now: float) -> None:
        """Logs the line if one is due at `now`."""
        if self._pending and now >= self._last + self._interval:
            self._say(self._pending)
            self._pending, self._last = 0, now

    def next_due(self) -> float:
        """When the next line falls due; infinity when nothing waits."""
        return self._last + self._interval if self._pending else math.inf


class Acceptor:
    """Processes mode: the engine's accept thread in this process. It accepts
    on the listening socket and hands each connection to the target worker
    process holding the fewest, over the worker's channel (SCM_RIGHTS); the
    supervisor decides which workers are targets. `attention_fd` is readable
    when `report()` has refusals or deferrals to log."""

    def __init__(self, handle: object) -> None:
        self._handle = handle
        from subcorn import _native

        self.attention_fd: int = _native.acceptor_attention_fd(handle)

    @classmethod
    def start(cls, listen_fds: list[int], refusal: bytes, limit: int) -> Acceptor:
        from subcorn import _native

        started = _native.acceptor_start(listen_fds, refusal, limit)
        if isinstance(started, str):
            raise OSError(started)
        return cls(started)

    def add_worker(self, pid: int, channel: int) -> None:
        """The acceptor owns `channel` from now on."""
        from subcorn import _native

        _native.acceptor_add_worker(self._handle, pid, channel)

    def set_targets(self, pids: list[int]) -> None:
        """From the moment this returns, new connections go to these alone."""
        from subcorn import _native

        _native.acceptor_set_targets(self._handle, pids)

    def report(self) -> dict[str, int]:
        from subcorn import _native

        return _native.acceptor_report(self._handle)

    def stop(self) -> None:
        from subcorn import _native

        _native.acceptor_stop(self._handle)


class BindError(Exception):
    """The address cannot be used; the message is the one line to print."""


@dataclass
class Listener:
    sock: socket.socket
    # A unix socket file this process created, removed when it exits.
    unix_path: str | None = None

    @property
    def fd(self) -> int:
        return self.sock.fileno()

    @property
    def address(self) -> str:
        """Where clients connect, for the log (the real port when --port 0)."""
        if self.sock.family == socket.AF_UNIX:
            return f"unix:{self.sock.getsockname()}"
        host, port = self.sock.getsockname()[:2]
        return f"http://{_host_port(host, port)}"

    def close(self) -> None:
        """Stops holding the socket; workers that still have it keep serving."""
        self.sock.close()

    def remove_file(self) -> None:
        if self.unix_path and _is_socket_file(self.unix_path):
            with contextlib.suppress(OSError):
                os.unlink(self.unix_path)


def open_listener(config: Config) -> Listener:
    if config.fd is not None:
        return _adopt(config.fd)
    if config.uds:
        return _bind_unix(config.uds)
    return _bind_tcp(config.host, config.port)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_socket_file(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _adopt(fd: int) -> Listener:
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise BindError(f"file descriptor {fd} is not a socket: {_reason(exc)}") from None
    if sock.type != socket.SOCK_STREAM:
        sock.detach()  # not ours to close
        raise BindError(f"file descriptor {fd} is not a stream socket")
    return Listener(sock)


def _bind_tcp(host: str, port: int) -> Listener:
    # The engine's listen_tcp does the same: every address the host resolves
    # to, in order, until one binds.
    try:
        infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                   socket.AI_PASSIVE | socket.AI_NUMERICSERV)
    except socket.gaierror as exc:
        raise BindError(f"could not resolve host '{host}': {exc.strerror}") from None
    last: OSError = OSError("no address to bind to")
    for family, kind, proto, _, addr in infos:
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            last = exc
            sock.close()
            continue
        return Listener(sock)
    raise BindError(f"could not bind to {_host_port(host, port)}: {_reason(last)}")


def _bind_unix(path: str) -> Listener:
    # A socket file left by an earlier run would make bind fail: replace it,
    # but never delete anything that is not a socket.
    if _is_socket_file(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise BindError(f"could not bind to unix socket {path}: {_reason(exc)}") from None
    os.chmod(path, 0o666)
    return Listener(sock, unix_path=path)
