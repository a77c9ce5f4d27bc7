"""Apps for the static files tests (test_static.py).

- app: records every request it is called for (ws_events.record
  "request") and answers "app <path>", so a test can tell what reached Python.
- starlette_files: a real Starlette app; its FileResponse sends
  http.response.pathsend when the scope offers the extension. Every message
  type it sends is recorded ("sent").
- zerocopy: http.response.zerocopysend as the ASGI spec allows it, and
  pathsend and zerocopysend misused; ?case=... says which, ?path=... the file.
"""

import os
import stat

from common import lifespan_noop, query, respond
from ws_events import describe_exception, record


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    record("request", path=scope["path"], method=scope["method"])
    await respond(send, f"app {scope['path']}".encode())


def _starlette_app():
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse
    from starlette.routing import Route

    async def file(request: Request):
        return FileResponse(request.query_params["path"])

    return Starlette(routes=[Route("/file", file)])


_starlette = _starlette_app()


async def starlette_files(scope, receive, send):
    if scope["type"] != "http":
        return await _starlette(scope, receive, send)
    record("scope", extensions=sorted(scope.get("extensions", {})))

    async def recording_send(message):
        record("sent", type=message["type"])
        await send(message)

    await _starlette(scope, receive, recording_send)


async def _start(send, headers=()):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"), *headers]})


async def zerocopy(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    q = query(scope)
    case, path = q.get("case"), q.get("path", "")
    try:
        if case == "whole":  # no offset, no count: from the file's position to its end
            with open(path, "rb") as f:
                await _start(send)
                await send({"type": "http.response.zerocopysend", "file": f})
        elif case == "slice":
            size = os.stat(path).st_size
            with open(path, "rb") as f:
                await _start(send, [(b"content-length", b"4")])
                await send({"type": "http.response.zerocopysend", "file": f, "offset": 3,
                            "count": 4})
            record("slice", size=size)
        elif case == "parts":
            # Without "offset" the file's position is used and moved on, as
            # os.sendfile(offset=None) does: the second part goes on from it.
            with open(path, "rb") as f:
                await _start(send)
                await send({"type": "http.response.zerocopysend", "file": f, "count": 5,
                            "more_body": True})
                record("position", position=os.lseek(f.fileno(), 0, os.SEEK_CUR))
                await send({"type": "http.response.body", "body": b"<mid>", "more_body": True})
                await send({"type": "http.response.zerocopysend", "file": f.fileno(),
                            "more_body": True})
                await send({"type": "http.response.body", "body": b"<end>"})
        elif case == "closed-at-once":  # the descriptor is the engine's own copy
            f = open(path, "rb")
            await _start(send)
            await send({"type": "http.response.zerocopysend", "file": f})
            f.close()
        elif case in ("fifo", "relative", "directory", "missing"):
            await _start(send)
            if case == "fifo":
                fifo = path + ".fifo"
                if not os.path.exists(fifo):
                    os.mkfifo(fifo)
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
                assert stat.S_ISFIFO(os.fstat(fd).st_mode)
                await send({"type": "http.response.zerocopysend", "file": fd})
            else:
                target = {"relative": "relative/file.txt", "directory": os.path.dirname(path),
                          "missing": path + ".missing"}[case]
                await send({"type": "http.response.pathsend", "path": target})
        elif case == "pathsend":
            await _start(send)
            await send({"type": "http.response.pathsend", "path": path})
        else:
            await respond(send, b"which case?", status=400)
    except Exception as exc:
        record("error", case=case, message=str(exc), **describe_exception(exc))
        raise
