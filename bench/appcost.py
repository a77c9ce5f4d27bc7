"""The CPU one request costs a WSGI app by itself: no server, no socket.

    BENCH_DB_DIR=/tmp/db python3.14 -m bench.appcost bench.apps.flask_bench:app /items
    BENCH_DB_DIR=/tmp/db python3.14 -m bench.appcost --sub-interpreter APP PATH

Calls the app in a loop with a fixed GET environ and prints the microseconds of
CPU per call (this process's, pinned by the caller to one core if wanted): the
fastest of several batches, since on a shared machine other work only ever
makes a batch slower (a cache or core shared with it). A server's CPU/req minus
this is what serving, and running the app under load, costs: parsing, the
environ, sockets and the kernel's TCP work. The harness states it under the
framework tables.

--sub-interpreter runs the same loop in a fresh own-GIL sub-interpreter, where
subcorn runs the app: there an extension that refuses sub-interpreters is not
loaded and its library's pure-Python fallback runs instead (SQLAlchemy's
Cython extensions do this), so the app itself may cost more.
"""

import importlib
import io
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

WARMUP_CALLS = 2_000
BATCHES = 10
CALLS_PER_BATCH = 2_000
MARKER = "APP_US_PER_REQUEST "

StartResponse = Callable[..., Callable[[bytes], object]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def environ(path: str) -> dict[str, Any]:
    # What a server passes for wrk's request: GET, a Host header, no body.
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }  # fmt: skip


def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Any:
    if not status.startswith("200"):
        raise RuntimeError(f"the app answered {status}")
    return lambda data: None


def call(app: WsgiApp, path: str) -> bytes:
    body = app(environ(path), start_response)
    try:
        return b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()  # Django sends request_finished here, as under a server


def load(spec: str) -> WsgiApp:
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for name in attr.split("."):
        obj = getattr(obj, name)
    return obj


def main(argv: list[str]) -> None:
    if argv[0] == "--sub-interpreter":
        from concurrent import interpreters

        interpreters.create().exec(f"from bench import appcost; appcost.main({argv[1:]!r})")
        return
    app, path = load(argv[0]), argv[1]
    for _ in range(WARMUP_CALLS):
        call(app, path)
    batches = []
    for _ in range(BATCHES):
        start = time.process_time()
        for _ in range(CALLS_PER_BATCH):
            call(app, path)
        batches.append((time.process_time() - start) / CALLS_PER_BATCH)
    # Flushed here: a sub-interpreter's stdout is its own buffered object.
    print(f"{MARKER}{min(batches) * 1e6:.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
