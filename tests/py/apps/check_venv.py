"""`subcorn check` fixture: an app that imports `tinyext`, a single-phase C
extension module (so refused in a sub-interpreter) that test_check.py builds
and installs into a virtualenv of its own."""

import _sqlite3  # noqa: F401  (an extension module of the standard library, outside the venv)
import tinyext  # noqa: F401  (only installed in that virtualenv)

from common import lifespan_noop, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    await respond(send, b"venv")
