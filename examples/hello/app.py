"""A plain ASGI app that shows what subcorn does: every response says which
process and which sub-interpreter served it.

    ./dev run subcorn examples.hello.app:app --workers 2
    curl http://127.0.0.1:8000/          # JSON: pid, interpreter id, request count
    curl -d 'some bytes' http://127.0.0.1:8000/echo
    curl http://127.0.0.1:8000/stream    # a chunked response, line by line
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent import interpreters
from typing import Any

Scope = dict[str, Any]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "http":
        handler = ROUTES.get(scope["path"], not_found)
        await handler(scope, receive, send)


async def lifespan(scope: Scope, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["requests"] = [0]  # one counter per interpreter
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def index(scope: Scope, receive: Any, send: Any) -> None:
    counter = scope["state"]["requests"]
    counter[0] += 1
    await respond_json(send, {
        "pid": os.getpid(),
        "interpreter": interpreters.get_current().id,
        "requests_served_by_this_interpreter": counter[0],
    })


async def echo(scope: Scope, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    await send({"type": "http.response.body", "body": body})


async def stream(scope: Scope, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    for i in range(5):
        await send({"type": "http.response.body", "body": f"line {i}\n".encode(),
                    "more_body": True})
        await asyncio.sleep(0.1)
    await send({"type": "http.response.body", "body": b""})


async def not_found(scope: Scope, receive: Any, send: Any) -> None:
    await respond_json(send, {"error": "not found", "path": scope["path"]}, status=404)


async def respond_json(send: Any, data: object, status: int = 200) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


ROUTES = {"/": index, "/echo": echo, "/stream": stream}
