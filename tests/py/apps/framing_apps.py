"""Fixture apps for test_response_framing.py: one path per framing case or app
mistake, in a WSGI and an ASGI flavour. Anything else answers 200 b"fine".

Files for wsgi.file_wrapper are read from $FRAMING_DIR: empty.bin (0 bytes)
and eleven.bin (b"hello world").
"""

import os

from common import lifespan_noop, respond

APP_SERVER = "framing-app/1.0"
APP_DATE = "Mon, 07 Nov 1994 00:00:00 GMT"

# The app mistakes, as (status line, headers), shared by both flavours.
MISTAKES = {
    "/two-lengths": ("200 OK", [("Content-Length", "5"), ("Content-Length", "6")]),
    "/length-on-204": ("204 No Content", [("Content-Length", "5")]),
    "/status-101": ("101 Switching Protocols", [("Upgrade", "websocket")]),
    "/status-099": ("099 X", []),
    "/cr-lf-in-value": ("200 OK", [("X-Injected", "a\r\nSet-Cookie: stolen=1")]),
    "/lf-in-value": ("200 OK", [("X-Injected", "a\nb")]),
}


def _file(name):
    return open(os.path.join(os.environ["FRAMING_DIR"], name), "rb")


def wsgi(environ, start_response):
    path = environ["PATH_INFO"]
    wrapper = environ["wsgi.file_wrapper"]
    if path in ("/write-then-empty-file", "/write-then-file"):
        # write() streams (chunked), then the file follows as one more chunk.
        write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
        write(b"x")
        return wrapper(_file("empty.bin" if path == "/write-then-empty-file" else "eleven.bin"))
    if path == "/file-longer-than-length":
        start_response("200 OK", [("Content-Length", "5")])
        return wrapper(_file("eleven.bin"))
    if path == "/write-then-file-longer-than-length":
        write = start_response("200 OK", [("Content-Length", "5")])
        write(b"x")
        return wrapper(_file("eleven.bin"))
    if path == "/server-and-date":
        start_response("200 OK", [("Server", APP_SERVER), ("Date", APP_DATE)])
        return [b"own headers"]
    if path in MISTAKES:
        status, headers = MISTAKES[path]
        start_response(status, headers)
        return [b""]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    path = scope["path"]
    if path == "/server-and-date":
        await respond(send, b"own headers",
                      headers=[(b"server", APP_SERVER.encode()), (b"date", APP_DATE.encode())])
        return
    if path in MISTAKES:
        status, headers = MISTAKES[path]
        await send({"type": "http.response.start", "status": int(status.split()[0]),
                    "headers": [(k.encode(), v.encode()) for k, v in headers]})
        await send({"type": "http.response.body", "body": b""})
        return
    await respond(send, b"fine")
