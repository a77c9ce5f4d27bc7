"""`subcorn check` fixture: imports fine, fails only when a request comes.

/        200
/lazy    imports httptools (refused in a sub-interpreter) on first use
/signal  installs a signal handler: works only in a main interpreter
/broken  fails everywhere (an app bug, not a sub-interpreter problem)
"""

from common import lifespan_noop, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    path = scope["path"]
    if path == "/lazy":
        import httptools

        await respond(send, httptools.__name__.encode())
    elif path == "/signal":
        import signal

        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        await respond(send, b"signal")
    elif path == "/broken":
        raise RuntimeError("broken everywhere")
    else:
        await respond(send, b"lazy")
