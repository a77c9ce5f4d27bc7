"""Shared bits of the fixture apps (each interpreter imports its own copy)."""

import json
import os


def interpreter_id() -> int:
    """The id of the interpreter running this code (0 is the main one)."""
    try:
        from concurrent import interpreters
        return interpreters.get_current().id
    except ImportError:
        import _interpreters
        return _interpreters.get_current()[0]


def worker_identity() -> str:
    return f"{os.getpid()}:{interpreter_id()}"


async def lifespan_noop(receive, send, state_update=None):
    """Answers lifespan startup and shutdown; returns after shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def respond(send, body: bytes, status: int = 200, headers=(), content_type=b"text/plain"):
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                    *headers],
    })
    await send({"type": "http.response.body", "body": body})


async def respond_json(send, obj, status: int = 200):
    await respond(send, json.dumps(obj).encode(), status, content_type=b"application/json")


async def read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise RuntimeError(f"unexpected {message['type']} while reading the body")
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


def query(scope) -> dict[str, str]:
    from urllib.parse import parse_qsl
    return dict(parse_qsl(scope["query_string"].decode("latin-1")))
