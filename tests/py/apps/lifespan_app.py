"""Lifespan behaviours, one attribute each:

failing_startup   answers startup with lifespan.startup.failed and a message
raising_startup   raises during startup
no_lifespan       raises on any lifespan scope, serves http (for --lifespan auto)
recorder          appends every scope type it is called with to the file named
                  by TESTAPP_SCOPES_FILE, serves http
"""

import os

from common import lifespan_noop, respond

FAILED_MESSAGE = "custom-startup-failure-xyzzy"
RAISED_MESSAGE = "startup-exploded-plugh"


async def failing_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": FAILED_MESSAGE})
        return
    await respond(send, b"should never serve")


async def raising_startup(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError(RAISED_MESSAGE)
    await respond(send, b"should never serve")


async def no_lifespan(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("this app knows no lifespan")
    await respond(send, b"served without lifespan")


async def recorder(scope, receive, send):
    with open(os.environ["TESTAPP_SCOPES_FILE"], "a") as f:
        f.write(scope["type"] + "\n")
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    await respond(send, b"recorded")
