"""create_app() builds the app (for --factory)."""

from common import lifespan_noop, respond


def create_app():
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan_noop(receive, send)
        await respond(send, b"made-by-factory")
    return app
