"""The app the metrics tests serve: the path picks the answer.

/block?s=N   sleeps N seconds in the handler itself, holding its shard's
             thread (the loop cannot run: the shard misses its ticks)
/spin?s=N    keeps its shard's thread on the CPU for N seconds (a busy
             shard, however slowly the client sends its requests)
/status/N    answers status N
/pid         the worker process's pid
anything     b"hello"
WebSocket: echoes every message until the client closes.
"""

import os
import time

from common import lifespan_noop, query, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    if scope["type"] == "websocket":
        return await echo(receive, send)
    path = scope["path"]
    if path == "/block":
        time.sleep(float(query(scope).get("s", "1")))
        return await respond(send, b"unblocked")
    if path == "/spin":
        until = time.monotonic() + float(query(scope).get("s", "0.1"))
        while time.monotonic() < until:
            pass
        return await respond(send, b"spun")
    if path.startswith("/status/"):
        return await respond(send, b"as asked", status=int(path.removeprefix("/status/")))
    if path == "/pid":
        return await respond(send, str(os.getpid()).encode())
    await respond(send, b"hello")


async def echo(receive, send):
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message.get("text"),
                    "bytes": message.get("bytes")})
