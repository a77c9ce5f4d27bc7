"""`subcorn check` fixture: installs a signal handler at import, which only a
main interpreter may do (no extension module to blame)."""

import signal

from common import lifespan_noop, respond

signal.signal(signal.SIGUSR2, signal.SIG_IGN)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    await respond(send, b"signal")
