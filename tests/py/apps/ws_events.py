"""What a WebSocket fixture app observed, for the test to read.

Each event is one JSON line appended to the file named by WS_EVENTS (one short
write with O_APPEND, so workers in several processes or interpreters can share
the file). Without WS_EVENTS nothing is recorded.
"""

import json
import os

from common import worker_identity


def record(event: str, **fields) -> None:
    path = os.environ.get("WS_EVENTS")
    if not path:
        return
    line = json.dumps({"event": event, "worker": worker_identity(), **fields}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def describe_exception(exc: BaseException) -> dict:
    """What a test needs to know about an exception send() raised."""
    return {"type": type(exc).__name__, "is_oserror": isinstance(exc, OSError),
            "is_runtimeerror": isinstance(exc, RuntimeError)}
