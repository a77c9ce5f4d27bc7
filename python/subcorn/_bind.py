"""Where to listen: the --bind syntax (gunicorn's and hypercorn's) and how
--bind, --host/--port, --uds and --fd decide the addresses served.

Only text here: the supervisor binds (python/subcorn/_supervisor_listen.py).

    HOST:PORT      127.0.0.1:8000, localhost:8080, 0.0.0.0:80
    [IPv6]:PORT    [::1]:8000, [::]:443
    HOST, [IPv6]   port 8000
    unix:PATH      a unix socket (unix:///run/app.sock, gunicorn's, too)
    fd://N         an inherited socket, already bound

Without --bind, uvicorn's flags decide, as uvicorn does: --fd, else --uds,
else --host/--port. With --bind, the --bind addresses are served and those
flags are not (gunicorn's rule; the supervisor logs what it leaves out).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress

DEFAULT_PORT = 8000


class Kind(enum.StrEnum):
    TCP = "tcp"
    UNIX = "unix"
    FD = "fd"


@dataclasses.dataclass(frozen=True)
class Address:
    kind: Kind
    text: str          # as the user wrote it, for error lines
    host: str = ""     # TCP
    port: int = 0      # TCP
    path: str = ""     # unix socket
    fd: int = -1       # inherited socket


class BindSyntaxError(ValueError):
    """The message is the one line to print."""


def parse(text: str) -> Address:
    """One --bind value; BindSyntaxError names it and what is wrong."""
    def bad(why: str) -> BindSyntaxError:
        return BindSyntaxError(f"--bind {text!r}: {why}")

    if text.startswith("fd://"):
        number = text.removeprefix("fd://")
        if not number.isdigit():
            raise bad("fd://N takes a file descriptor number")
        return Address(Kind.FD, text, fd=int(number))
    if text.startswith("unix:"):
        path = text.removeprefix("unix://") if text.startswith("unix://") else text[5:]
        if not path:
            raise bad("unix:PATH needs a path")
        if "\0" in path:
            raise bad("the path has a NUL byte")
        return Address(Kind.UNIX, text, path=path)
    host, port = _split_host_port(text, bad)
    return Address(Kind.TCP, text, host=host, port=port)


def _split_host_port(text: str, bad) -> tuple[str, int]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise bad("an IPv6 address needs its closing bracket: [::1]:8000")
        host, rest = text[1:end], text[end + 1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad(f"{host!r} in brackets is not an IPv6 address") from None
        if rest and not rest.startswith(":"):
            raise bad("expected :PORT after the bracketed address")
        port_text = rest[1:] if rest else None
    elif text.count(":") > 1:
        raise bad("an IPv6 address goes in brackets: [::1]:8000")
    else:
        host, sep, port_text = text.partition(":")
        if not sep:
            port_text = None
    if not host:
        raise bad("no host (0.0.0.0:PORT for every IPv4 address, [::]:PORT for every IPv6 one)")
    if port_text is None:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or int(port_text) > 65535:
        raise bad(f"the port must be a number from 0 to 65535, not {port_text!r}")
    return host, int(port_text)


def addresses(bind: list[str], host: str, port: int, uds: str | None, fd: int | None,
              host_port_given: bool) -> tuple[list[Address], list[str]]:
    """The addresses to serve, and the flags given beside --bind that are
    therefore not used (for a warning). Config has checked the syntax."""
    if bind:
        ignored = [flag for flag, given in (("--host/--port", host_port_given), ("--uds", uds),
                                            ("--fd", fd is not None)) if given]
        return [parse(text) for text in bind], ignored
    if fd is not None:
        return [Address(Kind.FD, f"fd://{fd}", fd=fd)], []
    if uds:
        return [Address(Kind.UNIX, f"unix:{uds}", path=uds)], []
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [Address(Kind.TCP, text, host=host, port=port)], []


def parse_permissions(value: str | int) -> int:
    """--uds-permissions: octal, as chmod takes it (660, 0660 or 0o660)."""
    if isinstance(value, int):
        mode = value
    else:
        digits = value.strip().lower().removeprefix("0o")
        try:
            mode = int(digits, 8)
        except ValueError:
            raise ValueError(f"--uds-permissions takes an octal mode such as 660 or 0o660, "
                             f"not {value!r}") from None
    if not 0 <= mode <= 0o777:
        raise ValueError(f"--uds-permissions must be between 0 and 0o777, not {oct(mode)}")
    return mode
