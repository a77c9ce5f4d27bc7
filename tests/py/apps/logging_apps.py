"""An app for the logging tests, by path:

/boom     raises RuntimeError("kaboom-7331") before answering
/slow     answers after 60 ms (durations)
/sleep    answers after 2 s (--timeout-request)
/applog   logs "app-log-record" with the "app" logger, then answers
/ws-boom  (WebSocket) accepts, then raises RuntimeError("ws-kaboom-4417")
anything  200 b"hello-log" with content-type text/plain and x-cache: hit
"""

import asyncio
import logging

from common import lifespan_noop

BODY = b"hello-log"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    path = scope["path"]
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        raise RuntimeError("ws-kaboom-4417")
    if path == "/boom":
        raise RuntimeError("kaboom-7331")
    if path == "/slow":
        await asyncio.sleep(0.06)
    if path == "/sleep":
        await asyncio.sleep(2)
    if path == "/applog":
        logging.getLogger("app").warning("app-log-record")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"x-cache", b"hit")]})
    await send({"type": "http.response.body", "body": BODY})
