"""--env-file: a file of KEY=VALUE lines, as docker and python-dotenv read
them, set in the environment before the app is imported (the supervisor sets
them in its own, which every worker process and shard inherits).

    # a comment
    export DATABASE_URL="postgres://db/app"   # `export ` is allowed
    DEBUG=1
    GREETING='single quotes: $nothing is expanded, \\n stays two characters'
    MULTI="double quotes: \\n is a newline, \\" a quote"
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping

_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse(text: str, path: str = "env file") -> dict[str, str]:
    """The file's variables; ValueError naming the line for one that is not
    KEY=VALUE (or whose quote is not closed)."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.fullmatch(stripped)
        if match is None:
            raise ValueError(f"{path} line {number}: expected KEY=VALUE, not {stripped!r}")
        key, rest = match.groups()
        try:
            variables[key] = _value(rest)
        except ValueError as exc:
            raise ValueError(f"{path} line {number}: {exc}") from None
    return variables


def _value(rest: str) -> str:
    if rest[:1] == "'":
        end = rest.find("'", 1)
        if end < 0:
            raise ValueError("the ' is not closed")
        _comment_only(rest[end + 1:])
        return rest[1:end]
    if rest[:1] == '"':
        out, i = [], 1
        while i < len(rest) and rest[i] != '"':
            if rest[i] == "\\" and i + 1 < len(rest):
                out.append(_ESCAPES.get(rest[i + 1], "\\" + rest[i + 1]))
                i += 2
            else:
                out.append(rest[i])
                i += 1
        if i >= len(rest):
            raise ValueError('the " is not closed')
        _comment_only(rest[i + 1:])
        return "".join(out)
    # Unquoted: a comment starts at " #", as in a shell.
    return re.split(r"\s#", rest, maxsplit=1)[0].strip()


def _comment_only(after: str) -> None:
    after = after.strip()
    if after and not after.startswith("#"):
        raise ValueError(f"unexpected {after!r} after the closing quote")


def read(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            return parse(f.read(), path)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None


def checked(path: str) -> str:
    """The setting's check: the file exists and every line reads."""
    read(path)
    return os.path.abspath(path)


def load(path: str, environ: MutableMapping[str, str] = os.environ) -> None:
    """Sets the file's variables, except those already set (the environment
    the server was started with wins, as with uvicorn's --env-file)."""
    for key, value in read(path).items():
        environ.setdefault(key, value)
