"""systemd's two protocols, without libsystemd: socket activation (the
sockets a .socket unit passes, sd_listen_fds(3)) and the notify socket
(sd_notify(3): READY=1, RELOADING=1, STOPPING=1, WATCHDOG=1 as datagrams).

Both are read once by the supervisor, and their variables are taken out of
the environment: the worker processes and whatever the app starts must not
take systemd's sockets for their own, nor speak for this service.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time

# sd_listen_fds(3): the first passed descriptor.
LISTEN_FDS_START = 3


def take_listen_fds() -> list[tuple[int, str]]:
    """The sockets systemd passed to this process, with their names
    (LISTEN_FDNAMES, else "unknown" as sd_listen_fds_with_names says); empty
    when none were passed, or they were meant for another process (LISTEN_PID
    is not ours: a parent that was activated and started us)."""
    pid = os.environ.pop("LISTEN_PID", None)
    count = os.environ.pop("LISTEN_FDS", None)
    names_text = os.environ.pop("LISTEN_FDNAMES", None)
    # systemd 258+ also names our pidfd's inode: LISTEN_PID already says it is us.
    os.environ.pop("LISTEN_PIDFDID", None)
    if pid is None or count is None:
        return []
    try:
        if int(pid) != os.getpid():
            return []
        n = int(count)
    except ValueError:
        return []
    names = names_text.split(":") if names_text else []
    passed = []
    for i in range(max(n, 0)):
        fd = LISTEN_FDS_START + i
        # Ours now, and not inherited by anything we start unless passed on.
        with contextlib.suppress(OSError):  # not open: adopting it says so
            fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.fcntl(fd, fcntl.F_GETFD) | fcntl.FD_CLOEXEC)
        passed.append((fd, names[i] if i < len(names) and names[i] else "unknown"))
    return passed


class Notifier:
    """Tells the service manager what the server does (Type=notify). Without
    NOTIFY_SOCKET every call does nothing, so the supervisor calls it
    unconditionally."""

    def __init__(self, address: str | bytes | None, watchdog_usec: int | None) -> None:
        self._address = address
        self._sock: socket.socket | None = None
        if address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # WATCHDOG=1 is owed at least every WatchdogSec; half of it leaves room.
        self.watchdog_interval = watchdog_usec / 2e6 if watchdog_usec else None

    @classmethod
    def from_environment(cls) -> Notifier:
        """Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (and takes them
        out of the environment). The watchdog is ours when WATCHDOG_PID is
        unset or names this process."""
        env = os.environ
        path = env.pop("NOTIFY_SOCKET", None)
        usec, watchdog_pid = env.pop("WATCHDOG_USEC", None), env.pop("WATCHDOG_PID", None)
        address: str | bytes | None = None
        if path and (path.startswith("/") or path.startswith("@")):
            # "@name" is an abstract socket: its address begins with a NUL.
            address = b"\0" + path[1:].encode() if path.startswith("@") else path
        watchdog = None
        with contextlib.suppress(ValueError):
            if usec and (watchdog_pid is None or int(watchdog_pid) == os.getpid()):
                watchdog = int(usec) if int(usec) > 0 else None
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nMAINPID={os.getpid()}\nSTATUS={status}")

    def reloading(self, status: str) -> None:
        # systemd 253+ (Type=notify-reload, and Type=notify that says it)
        # wants the CLOCK_MONOTONIC time the reload began.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send(f"RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS={status}")

    def stopping(self, status: str) -> None:
        self._send(f"STOPPING=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self._send(f"STATUS={status}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, message: str) -> None:
        if self._sock is None:
            return
        # A manager that went away, or a full queue, must not stop the server.
        with contextlib.suppress(OSError):
            self._sock.sendto(message.encode(), self._address)
