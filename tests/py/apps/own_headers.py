"""An app that sets its own Server and X-Custom fields: a --header default
of the same name must not be added beside them."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"server", b"app/1"), (b"x-custom", b"from the app")]})
    await send({"type": "http.response.body", "body": b"own"})
