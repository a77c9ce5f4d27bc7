"""`subcorn check` fixture: psycopg2, whose _psycopg refuses sub-interpreters
(CPython names it by its short name; the probe names psycopg2._psycopg)."""

import psycopg2  # noqa: F401
from common import lifespan_noop, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    await respond(send, b"psycopg2")
