"""Loading the app from its import string, with errors a user can read."""

from __future__ import annotations

import importlib
import os
import traceback
from typing import Any


class AppLoadError(Exception):
    """The app could not be loaded; the message says why, in one line.

    `user_traceback` is the traceback of the exception the app's own code
    raised (its frames only, none of the import machinery's or subcorn's), or
    None when the import string itself is wrong."""

    def __init__(self, message: str, user_traceback: str | None = None) -> None:
        super().__init__(message)
        self.user_traceback = user_traceback


def import_from_string(import_str: str) -> Any:
    module_name, _, attrs = import_str.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise AppLoadError(f'Could not import module "{module_name}".') from None
        raise _load_error(exc, f'Error importing module "{module_name}"') from exc
    except Exception as exc:
        raise _load_error(exc, f'Error importing module "{module_name}"') from exc
    instance: Any = module
    try:
        for attr in attrs.split("."):
            instance = getattr(instance, attr)
    except AttributeError:
        raise AppLoadError(
            f'Attribute "{attrs}" not found in module "{module_name}".'
        ) from None
    return instance


def load_app(import_str: str, factory: bool) -> Any:
    app = import_from_string(import_str)
    if factory:
        try:
            app = app()
        except Exception as exc:
            raise _load_error(exc, f'Error calling the factory "{import_str}"') from exc
    if not callable(app):
        raise AppLoadError(f'"{import_str}" is not callable (did you mean --factory?)')
    return app


def _load_error(exc: BaseException, what: str) -> AppLoadError:
    """One line (what failed, the exception, where in the app's code), and the
    traceback of the app's frames."""
    where = app_location(exc)
    line = f"{what}: {type(exc).__name__}: {exc}" + (f" (at {where})" if where else "")
    return AppLoadError(line, user_traceback=user_traceback(exc))


def _is_machinery(filename: str) -> bool:
    """A frame of the import machinery or of this module: never the app's."""
    return (filename == __file__ or filename.startswith("<frozen importlib")
            or os.sep + "importlib" + os.sep in filename)


def app_location(exc: BaseException, app_dir: str = "") -> str | None:
    """"FILE:LINE" of the app's code that raised: for a SyntaxError the line
    that does not compile (its frames are all the import machinery's); else
    the innermost frame under `app_dir` when one is given and there is one,
    else the innermost frame outside the import machinery."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_machinery(f.filename)]
    prefix = app_dir.rstrip(os.sep) + os.sep if app_dir else None
    own = [f for f in frames if prefix and f.filename.startswith(prefix)]
    chosen = own or frames
    return f"{chosen[-1].filename}:{chosen[-1].lineno}" if chosen else None


def user_traceback(exc: BaseException) -> str:
    """The exception's traceback (its causes too) without the import
    machinery's frames and this module's: what the app's author needs."""
    summary = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    pending = [summary]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list(
            [f for f in current.stack if not _is_machinery(f.filename)])
        pending += [c for c in (current.__cause__, current.__context__) if c is not None]
    return "".join(summary.format())
