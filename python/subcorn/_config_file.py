"""The config file: `-c/--config FILE` (TOML), else `[tool.subcorn]` in the
pyproject.toml of the app's directory. Keys are the settings' names, written
with `_` or `-` (timeout_keep_alive or timeout-keep-alive), and `app`."""

from __future__ import annotations

import difflib
import os
import tomllib
from typing import Any

from subcorn.settings import ConfigError, Setting

PYPROJECT = "pyproject.toml"


def pyproject_in(directory: str) -> str | None:
    """The directory's pyproject.toml when it has a [tool.subcorn] table."""
    path = os.path.join(directory, PYPROJECT)
    if not os.path.isfile(path):
        return None
    return path if "subcorn" in _load(path).get("tool", {}) else None


def read(path: str, settings: list[Setting]) -> dict[str, Any]:
    """The file's settings by name, typed; ConfigError (one line naming the
    file and the key) for an unknown key or a value of the wrong type."""
    table = _load(path)
    if os.path.basename(path) == PYPROJECT:
        table = table.get("tool", {}).get("subcorn", {})
    by_key = {key: s for s in settings for key in s.file_keys}
    values: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for key, value in table.items():
        s = by_key.get(key)
        if s is None:
            close = difflib.get_close_matches(key, list(by_key), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{path}: unknown setting {key!r}{hint}")
        if s.name in given_as:
            raise ConfigError(f"{path}: {s.name} is given twice, as {given_as[s.name]!r} "
                              f"and {key!r}")
        try:
            values[s.name] = s.from_data(value)
        except ValueError as exc:
            raise ConfigError(f"{path}: {key}: {exc}") from None
        given_as[s.name] = key
    return values


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None
