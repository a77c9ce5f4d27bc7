"""`subcorn check` fixture: SQLAlchemy works in a sub-interpreter, but without
its Cython extensions (and without greenlet, so without its asyncio support)."""

import sqlalchemy
from common import lifespan_noop, respond

engine = sqlalchemy.create_engine("sqlite://")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    with engine.connect() as conn:
        value = conn.execute(sqlalchemy.text("select 40 + 2")).scalar_one()
    await respond(send, str(value).encode())
