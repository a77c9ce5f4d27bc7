"""The supervisor tests' app: which process answers, and ways to end it.

    /            {"pid", "ppid", "worker", "value"}
    /exit?code=N os._exit(N): the worker process dies
    /abort       os.abort(): the worker process dies of SIGABRT
    /alloc?mb=N  keeps N more MB alive in this worker, then answers as /
    /sleep?s=X   answers as / after X seconds

`value` is the text of the file named by TESTAPP_VALUE_FILE, read once at
import: a worker started after the file changed serves the new text (a
reload imports the app anew). The text "fail" makes the import fail.
"""

import asyncio
import os

from common import lifespan_noop, query, respond_json, worker_identity


def _read_value() -> str:
    path = os.environ.get("TESTAPP_VALUE_FILE")
    if not path:
        return ""
    with open(path) as f:
        return f.read().strip()


VALUE = _read_value()
if VALUE == "fail":
    raise RuntimeError("supervised_app: told to fail at import (value file says so)")

_kept: list[bytes] = []


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    path, q = scope["path"], query(scope)
    if path == "/exit":
        os._exit(int(q.get("code", "3")))
    if path == "/abort":
        os.abort()
    if path == "/alloc":
        # Touch every page, or it is not resident.
        _kept.append(b"x" * (int(q.get("mb", "10")) * 1024 * 1024))
    if path == "/sleep":
        await asyncio.sleep(float(q.get("s", "1")))
    await respond_json(send, {"pid": os.getpid(), "ppid": os.getppid(),
                              "worker": worker_identity(), "value": VALUE})
