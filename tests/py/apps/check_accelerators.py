"""`subcorn check` fixture: libraries that load in a sub-interpreter but quietly
without their C accelerators (psycopg_c, PyYAML's _yaml)."""

import psycopg
import yaml
from common import lifespan_noop, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    body = f"{psycopg.pq.__impl__} {yaml.__with_libyaml__}".encode()
    await respond(send, body)
