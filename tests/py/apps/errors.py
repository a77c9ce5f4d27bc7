"""Apps that fail, by path:

/before         raises before http.response.start
/after-length   starts a response with content-length 100, sends 10 bytes, raises
/after-chunked  starts a response without content-length, sends a part, raises
anything else   reads the request body (until its end or a disconnect), then 200 b"fine"
"""

from common import lifespan_noop, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    path = scope["path"]
    if path == "/before":
        raise ValueError("boom-before-start-4711")
    if path == "/after-length":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b"0123456789", "more_body": True})
        raise ValueError("boom-after-length-4712")
    if path == "/after-chunked":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first part", "more_body": True})
        raise ValueError("boom-after-chunked-4713")
    while True:  # a bad body must reach the parser before the answer
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    await respond(send, b"fine")
