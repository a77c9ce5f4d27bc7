"""Typed stub of subcorn's C++ extension."""

from typing import Any

class StartupError(RuntimeError): ...

class ClientDisconnected(OSError):
    """A WebSocket's send() after the connection closed (ASGI 2.4)."""

def serve(settings: dict[str, Any], /) -> tuple[int, str, bool]:
    """Listens on settings["listen_fds"] (sockets the supervisor bound), runs
    the shards until SIGINT/SIGTERM and their drain.
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
