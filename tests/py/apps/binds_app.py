"""Where a request came in, and what the worker's environment says of
systemd: the scope's server and client, the worker's pid, and which of
systemd's variables the app can still see (none should be left)."""

import os

from common import lifespan_noop, respond_json

SYSTEMD_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID",
                     "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan_noop(receive, send)
        return
    await respond_json(send, {
        "server": list(scope["server"]) if scope["server"] else None,
        "client": list(scope["client"]) if scope["client"] else None,
        "pid": os.getpid(),
        "systemd_variables": sorted(v for v in SYSTEMD_VARIABLES if v in os.environ),
    })
