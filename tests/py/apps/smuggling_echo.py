"""Echo apps for test_smuggling.py: each request answers with the app's view
of it (method, path, query, host, body length, and how many requests this
connection has brought so far) and appends the same view, as one JSON line,
to the file named by SMUGGLING_LOG. The log is what shows that the app saw no
request the client did not frame, even one whose answer never reached it.

A connection is told apart by the client's port; the count is per process
(the tests run one worker)."""

import json
import os
from collections import Counter

from common import lifespan_noop, read_body, respond_json

_requests_on = Counter()


def _record(port, method, path, query, host, body_length):
    _requests_on[port] += 1
    view = {"port": port, "seq": _requests_on[port], "method": method, "path": path,
            "query": query, "host": host, "body_length": body_length}
    log = os.environ.get("SMUGGLING_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(view) + "\n")
    return view


async def asgi_app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan_noop(receive, send)
        return
    body = await read_body(receive)
    hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
    view = _record(scope["client"][1], scope["method"], scope["path"],
                   scope["query_string"].decode("latin-1"), ",".join(hosts) if hosts else None,
                   len(body))
    await respond_json(send, view)


def wsgi_app(environ, start_response):
    body = environ["wsgi.input"].read()
    view = _record(int(environ["REMOTE_PORT"]), environ["REQUEST_METHOD"], environ["PATH_INFO"],
                   environ["QUERY_STRING"], environ.get("HTTP_HOST"), len(body))
    data = json.dumps(view).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(data)))])
    return [data]
