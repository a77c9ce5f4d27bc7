"""What a worker was started with, as the app sees it (test_config.py):

    /?env=A,B   {"pid", "interpreter_id", "root_path", "env": {A: os.environ.get(A), ...}}
"""

import os

from common import interpreter_id, lifespan_noop, query, respond_json


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    names = [n for n in query(scope).get("env", "").split(",") if n]
    await respond_json(send, {"pid": os.getpid(), "interpreter_id": interpreter_id(),
                              "root_path": scope["root_path"],
                              "env": {n: os.environ.get(n) for n in names}})
