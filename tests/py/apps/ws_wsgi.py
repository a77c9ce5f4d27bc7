"""A WSGI app for the WebSocket tests: a WebSocket upgrade request reaches a
WSGI app as a plain request, which it answers 200 with what it saw."""

import json


def app(environ, start_response):
    seen = {"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
            "upgrade": environ.get("HTTP_UPGRADE"), "connection": environ.get("HTTP_CONNECTION")}
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
