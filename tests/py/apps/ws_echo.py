"""A plain ASGI app for the WebSocket tests: the path picks the behaviour.

WebSocket: WEBSOCKET_ROUTES, by the path's first segment; what the app
observes (close codes and reasons, exceptions from send()) goes to
ws_events.record. HTTP: GET / is the browser test's page (ws_page.html); any
other path answers JSON describing the request's scope, which is how an
upgrade request served as plain HTTP (--ws none) is seen. Lifespan (echo_scope.py)
stores a greeting in the state, which every scope must carry a copy of.
"""

import asyncio
import json
import os
from pathlib import Path

from common import query, respond, respond_json, worker_identity
import echo_scope
from echo_scope import plain
from ws_events import describe_exception, record

PAGE = (Path(__file__).resolve().parent / "ws_page.html").read_bytes()
FLOOD_MESSAGE = b"x" * 1024


async def accept(receive, send, **options):
    """Takes the websocket.connect event, then accepts (with `options`)."""
    connect = await receive()
    assert connect["type"] == "websocket.connect", connect
    await send({"type": "websocket.accept", **options})


async def echo(scope, receive, send):
    """Echoes text and bytes. Text "close-me" makes the app close with 4001
    "done"; "whoami" answers the worker's identity. Records the disconnect."""
    await accept(receive, send)
    await echo_until_disconnect(scope, receive, send)


async def echo_until_disconnect(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            record("disconnect", path=scope["path"], code=message.get("code"),
                   reason=message.get("reason") or "")
            return
        text = message.get("text")
        if text == "close-me":
            await send({"type": "websocket.close", "code": 4001, "reason": "done"})
            record("app_closed", path=scope["path"])
            return
        if text == "whoami":
            await send({"type": "websocket.send", "text": worker_identity()})
        elif text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def scope_echo(scope, receive, send):
    """Sends the scope as JSON (bytes as latin-1), then echoes. Changes its
    state afterwards: a shallow copy per connection keeps that from the next."""
    await accept(receive, send)
    await send({"type": "websocket.send", "text": json.dumps(plain(scope))})
    scope["state"]["changed_by"] = "an earlier connection"
    await echo_until_disconnect(scope, receive, send)


async def accept_extras(scope, receive, send):
    """Accepts the last subprotocol the client offered, with extra headers."""
    await accept(receive, send, subprotocol=scope["subprotocols"][-1],
                 headers=[(b"x-ws-extra", b"yes"), (b"set-cookie", b"ws=1")])
    await echo_until_disconnect(scope, receive, send)


async def deny(scope, receive, send):
    await receive()  # websocket.connect
    await send({"type": "websocket.close"})


async def deny_with_response(scope, receive, send):
    """The websocket.http.response extension: a 401 with a body in two parts."""
    await receive()  # websocket.connect
    await send({"type": "websocket.http.response.start", "status": 401,
                "headers": [(b"content-type", b"text/plain"), (b"x-denied", b"yes")]})
    await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
    await send({"type": "websocket.http.response.body", "body": b"entry"})


async def raise_before_accept(scope, receive, send):
    await receive()  # websocket.connect
    raise RuntimeError("boom before accept")


async def raise_after_accept(scope, receive, send):
    await accept(receive, send)
    await receive()
    raise RuntimeError("boom after accept")


async def send_after_disconnect(scope, receive, send):
    """Waits for the client to go, then sends: the spec wants an OSError."""
    await accept(receive, send)
    while (await receive())["type"] != "websocket.disconnect":
        pass
    await send_too_late(send, "send_after_disconnect")


async def send_after_close(scope, receive, send):
    """Closes, then sends."""
    await accept(receive, send)
    await send({"type": "websocket.close", "code": 1000})
    await send_too_late(send, "send_after_close")


async def send_too_late(send, event):
    """Sends on a closed WebSocket; records what send() raised (None: nothing)."""
    try:
        await send({"type": "websocket.send", "text": "too late"})
    except Exception as exc:
        record(event, raised=describe_exception(exc))
    else:
        record(event, raised=None)


async def flood(scope, receive, send):
    """Sends 1 KiB messages for as long as send() lets it, recording how many
    went every 256. A send() that never waits shows as a count that keeps
    growing while the client reads nothing."""
    await accept(receive, send)
    sent = 0
    try:
        while True:
            await send({"type": "websocket.send", "bytes": FLOOD_MESSAGE})
            sent += 1
            if sent % 256 == 0:
                record("flood", sent=sent)
                # Let the server run even if its send() never suspends, so a
                # missing backpressure shows as growth instead of a hang.
                await asyncio.sleep(0)
    except OSError:
        record("flood_end", sent=sent)


async def read_after_release(scope, receive, send):
    """Accepts and reads nothing until the file ?release=PATH exists, then
    counts the messages until text "end" and answers {"messages", "bytes"}."""
    await accept(receive, send)
    release = query(scope)["release"]
    record("holding", path=scope["path"])
    while not os.path.exists(release):
        await asyncio.sleep(0.05)
    messages = total = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "end":
            break
        messages += 1
        total += len(message.get("bytes") or b"")
    await send({"type": "websocket.send", "text": json.dumps({"messages": messages, "bytes": total})})
    await echo_until_disconnect(scope, receive, send)


async def slow_accept(scope, receive, send):
    """Takes ?seconds=S (2.5 by default) to decide, then accepts and echoes
    (an app that checks a token against a database first)."""
    await asyncio.sleep(float(query(scope).get("seconds", "2.5")))
    await echo(scope, receive, send)


WEBSOCKET_ROUTES = {
    "/echo": echo,
    "/slow-accept": slow_accept,
    "/scope": scope_echo,
    "/accept-extras": accept_extras,
    "/deny": deny,
    "/deny-response": deny_with_response,
    "/raise-before-accept": raise_before_accept,
    "/raise-after-accept": raise_after_accept,
    "/send-after-disconnect": send_after_disconnect,
    "/send-after-close": send_after_close,
    "/flood": flood,
    "/read-after-release": read_after_release,
}


async def http(scope, receive, send):
    if scope["path"] == "/":
        await respond(send, PAGE, content_type=b"text/html; charset=utf-8")
    else:
        await respond_json(send, {"type": scope["type"], "path": scope["path"],
                                  "headers": plain(scope["headers"])})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await echo_scope.app(scope, receive, send)  # stores the greeting
    if scope["type"] == "http":
        return await http(scope, receive, send)
    # The path includes root_path (as in the ASGI spec); a route is the first
    # segment below it (/scope/anything is /scope).
    path = scope["path"].removeprefix(scope.get("root_path", ""))
    route = WEBSOCKET_ROUTES.get("/" + path.split("/")[1])
    if route is None:
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    await route(scope, receive, send)
