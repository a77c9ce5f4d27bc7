"""Every setting is declared once, as a field of Config (config.py) made by
`setting(...)`: its name and type come from the field, the rest from the call.
Everything else is derived from that declaration: the command line (cli.py),
the SUBCORN_* variables, the config file (_config_file.py), --print-config,
subcorn.run's keywords, and what the supervisor hands its worker processes
(the Config itself).

A declaration, for example:

    timeout_keep_alive: float = setting(
        5.0, "close idle keep-alive connections after this many seconds",
        check=not_negative)

gives the flag --timeout-keep-alive, the variable SUBCORN_TIMEOUT_KEEP_ALIVE,
the file key timeout_keep_alive (or timeout-keep-alive), and the line in
--help with "(default: 5)".
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

ENV_PREFIX = "SUBCORN_"

# A check takes the value (typed, never None) and returns it, normalised;
# it raises ValueError with the rest of the sentence after the flag's name,
# e.g. "must be at least 1, not 0".
Check = Callable[[Any], Any]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class ConfigError(ValueError):
    """A setting that cannot work; the CLI prints it (one line) and exits 1."""


@dataclasses.dataclass(frozen=True)
class _Declared:
    """What `setting()` records in a field's metadata."""

    help: str
    aliases: tuple[str, ...]
    env: tuple[str, ...] | None
    metavar: str | None
    shown_default: str | None
    check: Check | None
    hidden: bool
    switch: bool
    positional: bool
    env_separator: str
    flag: str | None


def setting(default: Any = dataclasses.MISSING, help: str = "", *,
            default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
            aliases: Iterable[str] = (), env: Iterable[str] | None = None,
            metavar: str | None = None, shown_default: str | None = None,
            check: Check | None = None, hidden: bool = False, switch: bool = False,
            positional: bool = False, env_separator: str = ",", flag: str | None = None) -> Any:
    """Declares the Config field it is assigned to as a setting.

    help:          the --help text, without the default (added from `default`,
                   or `shown_default` when the value alone would not say it)
    aliases:       more command-line spellings, e.g. ("-p",) or ("--limit-max-requests",);
                   a long alias is a file key too
    env:           the variables that set it, the first one set wins
                   (default: SUBCORN_<NAME>)
    check:         value -> value, raising ValueError("must be ...")
    hidden:        decided by the supervisor for its worker processes: no flag,
                   no variable, no file key
    switch:        a bool that is only --name / --no-name (no `--name BOOLEAN`;
                   for a flag that could be followed by the app)
    positional:    the command line takes it without a flag (the app)
    env_separator: a list's items in its variable (a file gives a TOML array)
    flag:          the main command-line spelling when it is not the name's
                   (uvicorn's singular --reload-dir for the list reload_dirs)
    """
    declared = _Declared(help, tuple(aliases), None if env is None else tuple(env), metavar,
                         shown_default, check, hidden, switch, positional, env_separator, flag)
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"setting": declared})


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting, as everything that reads settings sees it."""

    name: str
    kind: type                # int, float, str, bool, list (of str) or an enum
    optional: bool            # None is a value: "not set"
    default: Any              # dataclasses.MISSING for the app (required)
    default_factory: Any
    declared: _Declared

    @property
    def hidden(self) -> bool:
        return self.declared.hidden

    @property
    def option(self) -> str:
        """The main flag, as messages name the setting."""
        return self.declared.flag or "--" + self.name.replace("_", "-")

    @property
    def flags(self) -> list[str]:
        """The command-line spellings: short ones first, as --help shows them."""
        spellings = [self.option, *self.declared.aliases]
        return sorted(spellings, key=lambda flag: flag.startswith("--"))

    @property
    def env(self) -> tuple[str, ...]:
        if self.hidden:
            return ()
        if self.declared.env is not None:
            return self.declared.env
        return (ENV_PREFIX + self.name.upper(),)

    @property
    def file_keys(self) -> tuple[str, ...]:
        """The names a config file may give it: the name, its flag spelling,
        and each long alias's."""
        if self.hidden:
            return ()
        keys = [self.name, self.name.replace("_", "-")]
        for alias in (self.option, *self.declared.aliases):
            if alias.startswith("--"):
                keys += [alias[2:], alias[2:].replace("-", "_")]
        return tuple(dict.fromkeys(keys))

    def default_value(self) -> Any:
        if self.default_factory is not dataclasses.MISSING:
            return self.default_factory()
        return None if self.default is dataclasses.MISSING else self.default

    def shown_default(self) -> str | None:
        """The default as --help says it; None: say nothing."""
        if self.declared.shown_default is not None:
            return self.declared.shown_default
        if self.default is dataclasses.MISSING or self.default is None:
            return None
        return describe(self.default)

    def expected(self) -> str:
        """The type as an error names it."""
        if issubclass(self.kind, enum.Enum):
            return _one_of([str(member.value) for member in self.kind])
        return {bool: "true or false", int: "an integer", float: "a number",
                str: "a string", list: "a list of strings"}[self.kind]

    def from_text(self, text: str) -> Any:
        """A value from a command line or a variable; ValueError("expected ...")."""
        if self.kind is bool:
            word = text.strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
        elif self.kind is int:
            try:
                return int(text)
            except ValueError:
                pass
        elif self.kind is float:
            try:
                return float(text)
            except ValueError:
                pass
        elif self.kind is list:
            return [item.strip() for item in text.split(self.declared.env_separator)
                    if item.strip()]
        else:  # str and enums: an enum's value is checked with the rest
            return text
        raise ValueError(f"expected {self.expected()}, not {text!r}")

    def from_data(self, value: Any) -> Any:
        """A value from a config file or a keyword (already typed, or a
        string); ValueError("expected ...")."""
        if value is None and self.optional:
            return None
        kind = self.kind
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is list and isinstance(value, (list, tuple)) and all(
                isinstance(item, str) for item in value):
            return list(value)
        if kind is list and isinstance(value, str):
            return [value]
        if kind is str and isinstance(value, str):
            return value
        if issubclass(kind, enum.Enum) and isinstance(value, (str, int)) \
                and not isinstance(value, bool):
            return str(value.value if isinstance(value, enum.Enum) else value)
        raise ValueError(f"expected {self.expected()}, not {value!r}")

    def checked(self, value: Any) -> Any:
        """The value converted to its enum and passed through the check;
        ConfigError naming the flag."""
        if value is None:
            return None
        try:
            if issubclass(self.kind, enum.Enum) and not isinstance(value, self.kind):
                try:
                    value = self.kind(value)
                except ValueError:
                    raise ValueError(f"must be {self.expected()}, not {value!r}") from None
            if self.declared.check is not None:
                value = self.declared.check(value)
        except ValueError as exc:
            # The app's own message names it; every other names its flag.
            raise ConfigError(str(exc) if self.declared.positional else f"{self.option} {exc}") \
                from None
        return value


def settings_of(cls: type) -> list[Setting]:
    """The settings a Config class declares, in its order."""
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        declared = field.metadata.get("setting")
        if declared is None:
            continue
        kind, optional = _kind(field.name, hints[field.name])
        found.append(Setting(field.name, kind, optional, field.default, field.default_factory,
                             declared))
    return found


def _kind(name: str, hint: Any) -> tuple[type, bool]:
    args = typing.get_args(hint)
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [arg for arg in args if arg is not type(None)]
        optional = len(rest) < len(args)
        if len(rest) != 1:
            raise TypeError(f"setting {name}: one type (and None), not {hint}")
        hint = rest[0]
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,):
        return list, optional
    if hint in (bool, int, float, str) or (isinstance(hint, type)
                                           and issubclass(hint, enum.Enum)):
        return hint, optional
    raise TypeError(f"setting {name}: a bool, int, float, str, list[str] or an enum, not {hint}")


def describe(value: Any) -> str:
    """A value as --help says it: on/off, 5 rather than 5.0."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value)


def _one_of(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


# ------------------------------------------------------------------ checks

def at_least(low: float) -> Check:
    def check(value: Any) -> Any:
        if value < low:
            raise ValueError(f"must be at least {low}, not {value}")
        return value
    return check


def between(low: float, high: float) -> Check:
    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, not {value}")
        return value
    return check


def not_negative(value: Any) -> Any:
    if value < 0:
        raise ValueError(f"must not be negative, not {value}")
    return value


def more_than_zero(value: Any) -> Any:
    if value <= 0:
        raise ValueError(f"must be more than 0, not {value}")
    return value
