"""An app whose import starts a non-daemon thread that never ends and a daemon
thread running a busy Python loop: the server must still exit on SIGTERM."""

import threading
import time

from common import lifespan_noop, respond


def _forever():
    while True:
        time.sleep(0.05)


def _busy():
    n = 0
    while True:
        n += 1


threading.Thread(target=_forever, name="never-ends", daemon=False).start()
threading.Thread(target=_busy, name="busy-daemon", daemon=True).start()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    await respond(send, b"threads running")
