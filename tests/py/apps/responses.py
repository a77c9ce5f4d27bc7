"""Responses, by path:

/stream       five body parts with more_body, no content-length
/fixed        b"hello world" with content-length
/status       status ?code=N, custom headers and two set-cookie headers
Every response body is sent even for HEAD (the server must drop it).
"""

import asyncio

from common import lifespan_noop, query, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await send({"type": "http.response.body", "body": f"part{i};".encode(), "more_body": True})
            await asyncio.sleep(0.02)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/fixed":
        await respond(send, b"hello world")
    elif path == "/status":
        code = int(query(scope).get("code", "200"))
        await respond(send, b"status body", status=code, headers=[
            (b"x-custom", b"custom-value"), (b"set-cookie", b"a=1; Path=/"),
            (b"set-cookie", b"b=2; Path=/")])
    else:
        await respond(send, b"not found", status=404)
