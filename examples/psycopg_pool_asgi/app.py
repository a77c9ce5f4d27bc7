"""A plain ASGI app over psycopg_pool.ConnectionPool against PostgreSQL.

    DATABASE_URL=postgresql://... python3.14 -m examples.psycopg_pool_asgi.initdb
    DATABASE_URL=postgresql://... subcorn examples.psycopg_pool_asgi.app:app --workers 2

The pool starts daemon threads. concurrent.interpreters forbids those, so this
app cannot run in its interpreters; subcorn's workers allow them. Each worker
opens its own pool in lifespan startup and closes it in lifespan shutdown.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from . import store

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

BODY_LIMIT = 1 << 20
log = logging.getLogger("psycopg_pool_asgi")


class ClientGone(Exception):
    """The client disconnected before it sent the whole body."""


class TooLarge(Exception):
    pass


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "http":
        try:
            await route(scope, receive, send)
        except ClientGone:
            pass  # nobody to answer
        except TooLarge:
            await respond(send, 413, {"error": f"the body is over {BODY_LIMIT} bytes"})
        except (PoolTimeout, psycopg.OperationalError) as error:
            log.error("database unavailable: %s", error)
            await respond(send, 503, {"error": "database unavailable"})


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                scope["state"]["pool"] = store.open_pool()
            except Exception as error:
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            pool = scope["state"].get("pool")
            if pool is not None:
                await asyncio.to_thread(pool.close)  # joins its threads: not on the loop
            await send({"type": "lifespan.shutdown.complete"})
            return


async def route(scope: Scope, receive: Receive, send: Send) -> None:
    method, path = scope["method"], scope["path"]
    if path == "/healthz":
        await respond(send, 200, {"status": "ok"})
    elif path == "/api/boom":
        # Fails on purpose: the server answers 500 and logs the traceback.
        raise RuntimeError("boom: this view fails on purpose")
    elif path != "/api/notes":
        await respond(send, 404, {"error": "not found"})
    elif method == "GET":
        notes = await asyncio.to_thread(store.list_notes, pool_of(scope))
        await respond(send, 200, {"notes": notes})
    elif method == "POST":
        await create(scope, receive, send)
    else:
        await respond(send, 405, {"error": "method not allowed"}, [(b"allow", b"GET, POST")])


async def create(scope: Scope, receive: Receive, send: Send) -> None:
    try:
        data = json.loads(await read_body(receive))
    except ValueError:
        data = None
    title = data.get("title") if isinstance(data, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title) > store.TITLE_MAX:
        await respond(send, 400, {"error": f"the body must be JSON with a 'title' of 1 to {store.TITLE_MAX} characters"})
        return
    note_id = await asyncio.to_thread(store.create_note, pool_of(scope), title, str(data.get("body", "")))
    await respond(send, 201, {"id": note_id})


def pool_of(scope: Scope) -> Any:
    try:
        return scope["state"]["pool"]
    except KeyError:
        raise RuntimeError("no connection pool: the server did not run lifespan startup") from None


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def respond(send: Send, status: int, data: object,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(data).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
