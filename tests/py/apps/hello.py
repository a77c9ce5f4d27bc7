"""The smallest app: b"hello" for every request."""

from common import lifespan_noop, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    await respond(send, b"hello")
