"""For the balance tests: which worker answered (pid, interpreter id), and a
slow endpoint that holds its shard's thread.

GET /                 {"pid", "interpreter_id", "client", "scheme", "tls"}
GET /spin?seconds=S   computes for S seconds on the shard's thread, then answers

BALANCE_SLOW_IMPORT=S: every interpreter but the first one of its process
takes S seconds longer to import this module, as an app whose start-up time
varies does, so that one shard serves well before the next one joins."""

import os
import time

from common import interpreter_id, lifespan_noop, query, respond_json

if interpreter_id() != 1:
    time.sleep(float(os.environ.get("BALANCE_SLOW_IMPORT", "0")))


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan_noop(receive, send)
        return
    if scope["path"] == "/spin":
        end = time.perf_counter() + float(query(scope).get("seconds", "1"))
        while time.perf_counter() < end:
            pass
    await respond_json(send, {
        "pid": os.getpid(),
        "interpreter_id": interpreter_id(),
        # What the connection told this interpreter (made again when it moved).
        "client": scope["client"],
        "scheme": scope["scheme"],
        "tls": "tls" in scope.get("extensions", {}),
    })


def wsgi_app(environ, start_response):
    """The same as WSGI, for --threads, with one more endpoint:
    GET /sleep?seconds=S waits S seconds without computing (a query's wait)."""
    params = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    seconds = float(params.get("seconds", "1"))
    if environ["PATH_INFO"] == "/spin":
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
    elif environ["PATH_INFO"] == "/sleep":
        time.sleep(seconds)
    import json
    body = json.dumps({
        "pid": os.getpid(),
        "interpreter_id": interpreter_id(),
        "client": [environ["REMOTE_ADDR"], int(environ["REMOTE_PORT"])],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
