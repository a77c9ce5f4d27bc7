"""WSGI pieces that are plain Python: wsgi.file_wrapper, and telling a WSGI
app from an ASGI one."""

from __future__ import annotations

import functools
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
    if _is_async(app):
        return "asgi", "an async callable"
    takes_two, takes_three = _accepts(app, 2), _accepts(app, 3)
    if inspect.isclass(app):
        # A WSGI app may be a class whose instances are the response iterable:
        # App(environ, start_response).
        if takes_two and not takes_three:
            return "wsgi", "a class called with (environ, start_response)"
        return "asgi", "a class"
    if takes_two and not takes_three:
        return "wsgi", "a callable taking (environ, start_response)"
    if takes_three:
        return "asgi", "a callable taking (scope, receive, send)"
    return "asgi", "the default for a callable of unknown shape"


def interface_mismatch(app: Any, interface: str) -> str | None:
    """Why the app cannot be called as `interface` ("asgi" or "wsgi"), or None.

    Only a sure sign counts, so that an app of an unusual shape is still
    served as the user said: an async callable is never WSGI; a plain callable
    that can be called with (scope, receive, send) but not with two arguments
    is not WSGI; one that takes exactly (environ, start_response) is not ASGI
    (ASGI calls with three). Without this a mismatched app starts and answers
    every request 500."""
    if interface == "wsgi":
        if _is_async(app):
            return "it is an ASGI app (an async callable)"
        if _accepts(app, 3) and _accepts(app, 2) is False:
            return "it is an ASGI app (it takes (scope, receive, send))"
    elif interface == "asgi" and not _is_async(app):
        if _accepts(app, 2) and _accepts(app, 3) is False:
            return "it is a WSGI app (it takes (environ, start_response))"
    return None


def _is_async(app: Any) -> bool:
    """A coroutine function, an object whose __call__ is one, or a
    functools.partial of either."""
    while isinstance(app, functools.partial):
        app = app.func
    if inspect.iscoroutinefunction(app):
        return True
    if inspect.isclass(app) or inspect.isroutine(app):
        return False
    return inspect.iscoroutinefunction(getattr(type(app), "__call__", None))


def _accepts(app: Any, count: int) -> bool | None:
    """Whether the app can be called with `count` positional arguments (a
    class: its constructor); None when its signature cannot be read."""
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True
