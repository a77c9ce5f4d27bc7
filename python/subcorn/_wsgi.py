"""WSGI pieces that are plain Python: wsgi.file_wrapper, and telling a WSGI
app from an ASGI one."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any


class FileWrapper:
    """wsgi.file_wrapper (PEP 3333). When the file is a regular file with a
    fileno(), the engine sends it with sendfile() and never reads it into
    Python; otherwise it is iterated in blocks."""

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> Iterator[bytes]:
        while True:
            data = self.filelike.read(self.blksize)
            if not data:
                return
            yield data


def detect_interface(app: Any) -> tuple[str, str]:
    """("asgi" or "wsgi", why): how the app wants to be called."""
    if inspect.isclass(app):
        # A WSGI app may be a class whose instances are the response iterable:
        # App(environ, start_response).
        params = _positional_params(app.__init__)[1:]
        if len(params) == 2:
            return "wsgi", "a class called with (environ, start_response)"
        return "asgi", "a class"
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(app, "__call__", app)
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(app):
        return "asgi", "an async callable"
    params = _positional_params(call)
    if len(params) == 2:
        return "wsgi", "a callable taking (environ, start_response)"
    if len(params) == 3:
        return "asgi", "a callable taking (scope, receive, send)"
    return "asgi", "the default for a callable of unknown shape"


def _positional_params(func: Any) -> list[str]:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in sig.parameters.values() if p.kind in kinds]
