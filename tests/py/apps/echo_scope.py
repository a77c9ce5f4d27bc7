"""Returns the request's scope as JSON (bytes as latin-1 strings, tuples as
lists, other objects as their repr). Lifespan startup stores a greeting in the
state, which requests must see in their scope's "state"."""

from common import respond_json


def plain(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "hello-from-lifespan"
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    echoed = plain(scope)
    echoed["state_is_dict"] = isinstance(scope.get("state"), dict)
    await respond_json(send, echoed)
