"""Typed stub of subcorn's C++ extension."""

from typing import Any

class StartupError(RuntimeError): ...

class ClientDisconnected(OSError):
    """A WebSocket's send() after the connection closed (ASGI 2.4)."""

def serve(settings: dict[str, Any], /) -> tuple[int, str, bool]:
    """Binds, runs the shards until SIGINT/SIGTERM and their drain.
    Returns (exit_code, error message, interpreters_left)."""

def check_tls(settings: dict[str, Any], /) -> str | None:
    """The TLS files' one-line error, or None when they load."""

def check_access_log_format(format: str, /) -> str | None:
    """An --access-log-format's one-line error, or None when it compiles."""

def _shard_serve(
    handle: int,
    app: Any,
    loop: Any,
    state: dict[str, Any],
    log_exception: Any,  # (message, exc, worker, method, path, client) -> None
    root_path: str,
    interface: str,  # "asgi" or "wsgi"
    /,
) -> None: ...
def _shard_failed(handle: int, message: str, /) -> None: ...
def _shard_stop_requested(handle: int, /) -> bool: ...

# --metrics, in the supervisor (python/subcorn/_supervisor_metrics.py).
def metrics_start(host: str, port: int, workers: int, /) -> tuple[Any, int, int] | str:
    """Binds the metrics port, creates the table the workers count in and
    starts the thread that answers: (exporter, table_fd, bound_port), or the
    error (one line)."""

def metrics_stop(exporter: Any, /) -> None: ...
def metrics_event(exporter: Any, what: str, value: int, /) -> None:
    """what: "ready" / "not_ready", "process_gone" (a pid), "rejection" (a
    status), "restart" / "recycle" (a worker number)."""

# Processes mode, in the supervisor (python/subcorn/_supervisor_listen.py,
# src/supervise/acceptor.h): the thread that accepts and hands over.
def acceptor_start(listen_fds: list[int], refusal: bytes, limit_max_connections: int, /) -> Any | str:
    """Starts the accept thread on sockets that listen already: the
    acceptor, or the error (one line)."""

def acceptor_stop(acceptor: Any, /) -> None: ...
def acceptor_add_worker(acceptor: Any, id: int, fd: int, /) -> None:
    """Takes the worker's hand-over channel (the fd is the acceptor's now)."""

def acceptor_set_targets(acceptor: Any, ids: list[int], /) -> None:
    """The workers that get new connections from the moment this returns."""

def acceptor_report(acceptor: Any, /) -> dict[str, int]:
    """over_limit, unplaced, deferred, deferred_errno, handed_over: since the last call."""

def acceptor_attention_fd(acceptor: Any, /) -> int:
    """The fd that is readable when acceptor_report() has news."""
