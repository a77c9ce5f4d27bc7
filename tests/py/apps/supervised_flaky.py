"""A worker that dies (os._exit(7)) shortly after it starts serving, as
long as the file named by TESTAPP_CRASH_FILE holds fewer than TESTAPP_CRASHES
lines; each start adds one. Then it stays up. For the supervisor's back-off."""

import os
import threading

from common import lifespan_noop, respond

_crash_file = os.environ["TESTAPP_CRASH_FILE"]
_crashes = int(os.environ.get("TESTAPP_CRASHES", "5"))


def _maybe_crash_soon() -> None:
    with open(_crash_file, "a+") as f:
        f.seek(0)
        starts = len(f.read().splitlines())
        f.write(f"{os.getpid()}\n")
    if starts < _crashes:
        # After startup completes: the supervisor has seen this worker ready.
        threading.Timer(0.3, os._exit, (7,)).start()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        _maybe_crash_soon()
        return await lifespan_noop(receive, send)
    await respond(send, b"steady")
