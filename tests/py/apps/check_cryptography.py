"""`subcorn check` fixture: `import cryptography` works in a sub-interpreter;
its Rust core is refused on first use."""

import cryptography  # noqa: F401
from common import lifespan_noop, respond


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    from cryptography.fernet import Fernet

    await respond(send, Fernet.generate_key())
