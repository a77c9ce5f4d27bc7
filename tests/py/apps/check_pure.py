"""`subcorn check` fixture: a pure ASGI app with no extension modules of its own.

With SUBCORN_CHECK_PID_FILE set, it writes the pid of the process that imports
it there (the check must never import the app in its own process)."""

import os

from common import lifespan_noop, respond

if os.environ.get("SUBCORN_CHECK_PID_FILE"):
    with open(os.environ["SUBCORN_CHECK_PID_FILE"], "a") as f:
        f.write(f"{os.getpid()}\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    await respond(send, b"pure")


def make_app():
    """For --factory."""
    return app
