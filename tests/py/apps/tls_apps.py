"""Fixture apps for test_tls.py.

`app` (ASGI): GET /big?n=N answers N bytes of a fixed pattern (byte i is
i % 251), streamed in 64 KiB messages; /whoami which process and
interpreter answered; any other path the scope as JSON (echo_scope.py).
`wsgi_file` (WSGI): the file named by WSGI_FILE through wsgi.file_wrapper.
"""

import os

from common import interpreter_id, respond_json
import echo_scope

PATTERN = bytes(i % 251 for i in range(251 * 261))  # 65511 bytes: a whole number of periods


def pattern(n):
    """The first n bytes of the pattern /big sends."""
    whole, rest = divmod(n, len(PATTERN))
    return PATTERN * whole + PATTERN[:rest]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await echo_scope.app(scope, receive, send)
    if scope["path"] == "/big":
        n = int(scope["query_string"].decode().partition("=")[2])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(n).encode())]})
        sent = 0
        while sent < n:
            piece = min(len(PATTERN), n - sent)
            sent += piece
            await send({"type": "http.response.body", "body": PATTERN[:piece],
                        "more_body": sent < n})
        return
    if scope["path"] == "/whoami":
        return await respond_json(send, {"pid": os.getpid(), "interpreter_id": interpreter_id()})
    await echo_scope.app(scope, receive, send)


def wsgi_file(environ, start_response):
    f = open(os.environ["WSGI_FILE"], "rb")
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(os.path.getsize(os.environ["WSGI_FILE"])))])
    return environ["wsgi.file_wrapper"](f)


def wsgi_environ(environ, start_response):
    body = environ["wsgi.url_scheme"].encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
