"""An app that notes each import of itself in $TESTAPP_IMPORTS (one line per
import), and sleeps $TESTAPP_IMPORT_SECONDS first when set: --mode auto's
probe imports it too."""

import os
import time

with open(os.environ["TESTAPP_IMPORTS"], "a") as f:
    f.write(f"{os.getpid()}\n")
time.sleep(float(os.environ.get("TESTAPP_IMPORT_SECONDS", "0")))


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"counted"})
