"""Fixture apps for the HTTP/2 tests (test_http2*.py): one ASGI app routed by
path, a WSGI app, and the page the browser test loads.

What the app observes in another process or interpreter reaches the test
through ws_events.record (the WS_EVENTS file).
"""

import asyncio
import hashlib
import json
import time

from common import lifespan_noop, query, read_body, respond, respond_json
from ws_events import describe_exception, record

CHUNK = 64 * 1024


def pattern(n: int) -> bytes:
    """n deterministic bytes (the test recomputes them)."""
    block = bytes(range(256)) * (CHUNK // 256)
    return (block * (n // len(block) + 1))[:n]


def scope_summary(scope) -> dict:
    return {
        "type": scope["type"],
        "http_version": scope["http_version"],
        "scheme": scope["scheme"],
        "method": scope.get("method"),
        "path": scope["path"],
        "query_string": scope["query_string"].decode("latin-1"),
        "client": list(scope["client"]) if scope.get("client") else None,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "extensions": sorted(scope.get("extensions") or {}),
    }


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan_noop(receive, send)
        return
    if scope["type"] == "websocket":
        await websocket_echo(scope, receive, send)
        return
    handler = ROUTES.get(scope["path"])
    if handler is None and scope["path"].startswith("/res/"):
        handler = resource
    if handler is None:
        await respond(send, b"not found", 404)
        return
    await handler(scope, receive, send)


async def scope_echo(scope, receive, send):
    await read_body(receive)
    await respond_json(send, scope_summary(scope))


async def sleep(scope, receive, send):
    """Sleeps ?s= seconds, then answers when it started and ended."""
    await read_body(receive)
    started = time.monotonic()
    await asyncio.sleep(float(query(scope).get("s", "0.5")))
    await respond_json(send, {"started": started, "ended": time.monotonic(),
                              "http_version": scope["http_version"]})


async def echo(scope, receive, send):
    """Reads the body as it comes; answers its length, digest and how many
    http.request messages carried it."""
    digest = hashlib.sha256()
    length = messages = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            record("echo_disconnect", length=length)
            return
        chunk = message.get("body", b"")
        digest.update(chunk)
        length += len(chunk)
        messages += 1
        if not message.get("more_body", False):
            break
    await respond_json(send, {"length": length, "sha256": digest.hexdigest(),
                              "messages": messages})


async def stream_bytes(scope, receive, send):
    """?n= bytes of pattern(), sent in 64 KiB messages (more_body)."""
    await read_body(receive)
    n = int(query(scope)["n"])
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    body = pattern(n)
    for i in range(0, n, CHUNK):
        await send({"type": "http.response.body", "body": body[i:i + CHUNK], "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def trailers(scope, receive, send):
    await read_body(receive)
    if "http.response.trailers" not in (scope.get("extensions") or {}):
        await respond(send, b"no http.response.trailers extension", 500)
        return
    await send({"type": "http.response.start", "status": 200, "trailers": True,
                "headers": [(b"content-type", b"application/grpc")]})
    await send({"type": "http.response.body", "body": b"part one, ", "more_body": True})
    await send({"type": "http.response.body", "body": b"part two"})
    await send({"type": "http.response.trailers", "more_trailers": False,
                "headers": [(b"grpc-status", b"0"), (b"x-checksum", b"c0ffee")]})


async def early_hints(scope, receive, send):
    await read_body(receive)
    if "http.response.early_hint" not in (scope.get("extensions") or {}):
        await respond(send, b"no http.response.early_hint extension", 500)
        return
    await send({"type": "http.response.early_hint",
                "links": [b"</style.css>; rel=preload; as=style",
                          b"</app.js>; rel=preload; as=script"]})
    await respond(send, b"after the hints")


async def wait_disconnect(scope, receive, send):
    """Never answers: records that it started, then what receive() says once
    the request is in (the client resets the stream)."""
    tag = query(scope).get("id", "")
    await read_body(receive)
    record("started", id=tag)
    message = await receive()
    record("disconnect", id=tag, message=message["type"])


async def flood(scope, receive, send):
    """Sends 64 KiB messages until ?limit= bytes (default 256 MiB), recording
    how far send() got (every 256 KiB); a server without backpressure takes
    them all at once."""
    tag = query(scope).get("id", "")
    limit = int(query(scope).get("limit", str(256 * 1024 * 1024)))
    await read_body(receive)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream")]})
    block = pattern(CHUNK)
    sent = 0
    try:
        while sent < limit:
            await send({"type": "http.response.body", "body": block, "more_body": True})
            sent += len(block)
            if sent % (4 * CHUNK) == 0:
                record("progress", id=tag, sent=sent)
        await send({"type": "http.response.body", "body": b""})
        record("flood_done", id=tag, sent=sent)
    except BaseException as exc:
        record("flood_ended", id=tag, sent=sent, **describe_exception(exc))
        raise


async def slow_finish(scope, receive, send):
    """Answers after ?s= seconds in two parts, recording when it started (a
    graceful shutdown lets it finish)."""
    tag = query(scope).get("id", "")
    await read_body(receive)
    record("started", id=tag)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"begun ", "more_body": True})
    await asyncio.sleep(float(query(scope).get("s", "1")))
    await send({"type": "http.response.body", "body": b"and finished " + tag.encode()})
    record("finished", id=tag)


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>h2</title></head>
<body><pre id="result">running</pre>
<script>
const n = %(count)d;
Promise.all(Array.from({length: n}, (_, i) =>
  fetch("/res/" + i + "?sleep=0.3", {cache: "no-store"}).then(r => r.json())))
  .then(all => { document.getElementById("result").textContent = JSON.stringify(all); })
  .catch(e => { document.getElementById("result").textContent = "error " + e; });
</script></body></html>
"""


async def page(scope, receive, send):
    await read_body(receive)
    count = int(query(scope).get("count", "6"))
    record("request", path=scope["path"], client=list(scope["client"]),
           http_version=scope["http_version"])
    await respond(send, (PAGE % {"count": count}).encode(), content_type=b"text/html")


async def resource(scope, receive, send):
    """One of the page's resources: records the connection it came on."""
    await read_body(receive)
    record("request", path=scope["path"], client=list(scope["client"]),
           http_version=scope["http_version"])
    await asyncio.sleep(float(query(scope).get("sleep", "0")))
    await respond_json(send, {"path": scope["path"], "http_version": scope["http_version"]})


async def websocket_echo(scope, receive, send):
    """Echoes text and bytes; closes with 4000 + len(text) when told "close"."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    record("ws_connect", path=scope["path"], http_version=scope["http_version"],
           scheme=scope["scheme"])
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            record("ws_disconnect", code=message.get("code"))
            return
        text = message.get("text")
        if text == "close":
            await send({"type": "websocket.close", "code": 4005, "reason": "bye"})
            record("ws_closed_by_app")
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


ROUTES = {
    "/": page,
    "/scope": scope_echo,
    "/sleep": sleep,
    "/echo": echo,
    "/bytes": stream_bytes,
    "/trailers": trailers,
    "/early-hints": early_hints,
    "/wait-disconnect": wait_disconnect,
    "/flood": flood,
    "/slow-finish": slow_finish,
}


def wsgi_app(environ, start_response):
    """WSGI over HTTP/2: the protocol it saw and the body it read."""
    body = environ["wsgi.input"].read()
    out = json.dumps({"protocol": environ["SERVER_PROTOCOL"],
                      "scheme": environ["wsgi.url_scheme"],
                      "method": environ["REQUEST_METHOD"],
                      "path": environ["PATH_INFO"],
                      "length": len(body),
                      "sha256": hashlib.sha256(body).hexdigest()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(out)))])
    return [out]
