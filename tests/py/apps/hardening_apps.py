"""Fixture apps for test_hardening.py: the hostile review's findings."""

import asyncio
import hashlib

from ws_events import record


def wsgi_read_body(environ, start_response):
    """Reads wsgi.input in 64 KiB pieces; answers the length and sha256."""
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    total = 0
    while chunk := stream.read(65536):
        digest.update(chunk)
        total += len(chunk)
    body = f"{total} {digest.hexdigest()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def wsgi_big_response(environ, start_response):
    """A generated response of ?mib=N MiB in 64 KiB pieces; counts how far it got."""
    mib = int(environ.get("QUERY_STRING", "mib=1").partition("=")[2] or 1)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    piece = b"x" * 65536

    def generate():
        for _ in range(mib * 16):
            yield piece
    return generate()


def wsgi_hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


async def asgi_read_body(scope, receive, send):
    """Reads the whole body; answers its length. Reports a disconnect in the log."""
    if scope["type"] != "http":
        return
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            print("app saw http.disconnect", flush=True)
            return
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(total).encode()})


async def asgi_never_answers(scope, receive, send):
    """Never answers and never calls receive(): only cancellation ends it."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/hello":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})
        return
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        print("app task cancelled", flush=True)
        raise


def wsgi_write_flood(environ, start_response):
    """write() of 64 MiB to whoever asked: more than write() may buffer."""
    write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
    try:
        for _ in range(1024):
            write(b"w" * 65536)
    except RuntimeError as exc:
        print(f"write refused: {exc}", flush=True)
        raise
    return []


async def asgi_start_only(scope, receive, send):
    """Starts a response and returns without a body."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def asgi_receive_with_timeout(scope, receive, send):
    """Waits for the body with asyncio.wait_for, which cancels the receive()
    that timed out; then receives again. Answers the body it got. Each
    timeout is recorded (ws_events), so a test knows when to send the body."""
    if scope["type"] != "http":
        return
    timeouts = 0
    while True:
        try:
            message = await asyncio.wait_for(receive(), 0.2)
            break
        except TimeoutError:
            timeouts += 1
            record("receive_timed_out", count=timeouts)
    body = message.get("body", b"")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%d %s" % (timeouts, body)})
