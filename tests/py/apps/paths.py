"""Echoes the path after sleeping ?sleep=SECONDS; ?pad=N appends N bytes so a
cut-short body shows. Used for keep-alive, pipelining, shutdown and limits."""

import asyncio

from common import lifespan_noop, query, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    q = query(scope)
    if "sleep" in q:
        await asyncio.sleep(float(q["sleep"]))
    body = f"path={scope['path']}".encode() + b"." * int(q.get("pad", "0"))
    await respond(send, body)
