"""Which worker answered: pid, interpreter id, and what lifespan startup stored
in this worker's state. Shutdown appends this worker's identity to the file
named by TESTAPP_SHUTDOWN_FILE, if set."""

import os

from common import respond_json, worker_identity, interpreter_id


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["x"] = worker_identity()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                path = os.environ.get("TESTAPP_SHUTDOWN_FILE")
                if path:
                    with open(path, "a") as f:
                        f.write(worker_identity() + "\n")
                await send({"type": "lifespan.shutdown.complete"})
                return
    await respond_json(send, {
        "pid": os.getpid(),
        "interpreter_id": interpreter_id(),
        "worker": worker_identity(),
        "state_x": scope.get("state", {}).get("x"),
    })
