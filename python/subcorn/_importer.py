"""Loading the app from its import string, with errors a user can read."""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any


class AppLoadError(Exception):
    """The app could not be loaded; the message says why, in one line."""


def import_from_string(import_str: str) -> Any:
    module_name, _, attrs = import_str.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise AppLoadError(f'Could not import module "{module_name}".') from None
        raise AppLoadError(_describe(exc, f'Error importing module "{module_name}"')) from exc
    except Exception as exc:
        raise AppLoadError(_describe(exc, f'Error importing module "{module_name}"')) from exc
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
            raise AppLoadError(_describe(exc, f'Error calling the factory "{import_str}"')) from exc
    if not callable(app):
        raise AppLoadError(f'"{import_str}" is not callable (did you mean --factory?)')
    return app


def _describe(exc: BaseException, what: str) -> str:
    """One line: what failed, the exception, and where in the app's code."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "importlib" not in frame.filename:
            where = f" (at {frame.filename}:{frame.lineno})"
            break
    return f"{what}: {type(exc).__name__}: {exc}{where}"
