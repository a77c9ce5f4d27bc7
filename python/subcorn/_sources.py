"""Where each setting's value comes from, and which one wins: the command
line (or subcorn.run's keywords) > SUBCORN_* variables > the config file >
the default. Also what --print-config shows of it."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from subcorn import _config_file
from subcorn.config import Config
from subcorn.settings import ConfigError, Setting, settings_of


@dataclasses.dataclass(frozen=True)
class Source:
    kind: str         # "default", "file", "env", "cli" or "subcorn.run"
    detail: str = ""  # the file's path, the variable's name

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}" if self.detail else self.kind


DEFAULT = Source("default")
CLI = Source("cli")
RUN = Source("subcorn.run")


@dataclasses.dataclass
class Resolved:
    values: dict[str, Any]       # every setting but the hidden ones, checked
    sources: dict[str, Source]

    def config(self) -> Config:
        """The Config (ConfigError without an app, or when settings contradict)."""
        if not self.values.get("app"):
            raise ConfigError("No app given: subcorn module:app")
        return Config(**self.values)


def public_settings() -> list[Setting]:
    """The settings a user gives (the hidden ones are the supervisor's)."""
    return [s for s in settings_of(Config) if not s.hidden]


def resolve(given: Mapping[str, Any], given_by: Source = CLI, *, config_file: str | None = None,
            environ: Mapping[str, str] = os.environ) -> Resolved:
    """Every setting's value and source. `given`: the typed values of the
    command line (or subcorn.run's keywords); `config_file`: -c, else the
    app directory's pyproject.toml is read when it has [tool.subcorn]."""
    settings = public_settings()
    values = {s.name: s.default_value() for s in settings}
    sources = dict.fromkeys(values, DEFAULT)
    from_env: dict[str, tuple[Any, Source]] = {}
    for s in settings:
        for variable in s.env:
            text = environ.get(variable)
            if text is not None:
                try:
                    from_env[s.name] = (s.from_text(text), Source("env", variable))
                except ValueError as exc:
                    raise ConfigError(f"{variable}: {exc}") from None
                break
    if config_file is None:
        app_dir = given.get("app_dir") or from_env.get("app_dir", (".",))[0] or "."
        config_file = _config_file.pyproject_in(app_dir)
    if config_file is not None:
        file = Source("file", os.path.abspath(config_file))
        for name, value in _config_file.read(config_file, settings).items():
            values[name], sources[name] = value, file
    for name, (value, source) in from_env.items():
        values[name], sources[name] = value, source
    for name, value in given.items():
        values[name], sources[name] = value, given_by
    for s in settings:
        try:
            values[s.name] = s.checked(values[s.name])
        except ConfigError as exc:
            where = sources[s.name]
            raise ConfigError(str(exc) if where in (DEFAULT, CLI) else f"{exc} (from {where})") \
                from None
    return Resolved(values, sources)


def print_config(resolved: Resolved) -> str:
    """Every setting as a line of TOML (so the output is a config file),
    with where its value came from as a comment."""
    lines = ["# subcorn's effective settings: value, and where it came from"]
    rows = []
    for s in public_settings():
        value = resolved.values[s.name]
        text = f"# {s.name} is not set" if value is None else f"{s.name} = {_toml(value)}"
        rows.append((text, str(resolved.sources[s.name])))
    width = max(len(text) for text, _ in rows)
    lines += [f"{text:<{width}}  # {source}" for text, source in rows]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's
