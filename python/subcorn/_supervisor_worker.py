"""One worker process as the supervisor sees it: the child, the socket it
reports on, and what state it is in.

A worker is the engine started with the supervisor's settings (child_config,
handed over as JSON in its environment). Its ready_fd is a socket on which it
writes `ready` once all its workers serve, `retire` when it wants to be
replaced (--max-requests) and `draining` once it stopped accepting (SIGTERM,
SIGUSR1); SIGTERM makes it drain and exit 0. On the inherited listening
socket it accepts only once the supervisor wrote `accept` on that socket (a
reload's new generation waits until the old one drains). In processes mode
it gets no listening socket but connections over its handoff_fd (another
socket, the acceptor's)."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import signal
import socket
import subprocess
import sys
import time

from subcorn.config import WORKER_ID_ENV, Config, Mode

# Set in the child's environment: the worker checks that this process is
# still its parent once it asked the kernel to stop it when we die
# (_supervisor_child.py).
SUPERVISOR_PID_ENV = "SUBCORN_SUPERVISOR_PID"

# The worker's settings, as JSON: the supervisor's Config with what is
# decided per child (_supervisor_child.main reads it and takes it out of the
# environment before the app is imported).
WORKER_CONFIG_ENV = "SUBCORN_WORKER_CONFIG"


class State(enum.Enum):
    STARTING = "starting"  # spawned, has not said `ready` yet
    READY = "ready"        # serving
    STOPPING = "stopping"  # sent SIGTERM: draining, or giving up its start


def child_config(config: Config, mode: Mode, workers: int,
                 listen_fds: tuple[int, ...] | None) -> Config:
    """What a worker process serves with: every setting as the supervisor
    has it, but where it listens (the inherited sockets; without `listen_fds`
    it is handed its connections: processes mode), how many workers of which
    kind, and none of what only the supervisor does (the pid file, memory,
    --reload's watching: a worker only answers its SIGHUP)."""
    return dataclasses.replace(config, supervised=True, mode=mode, workers=workers,
                               listen_fds=[str(fd) for fd in listen_fds or ()], bind=[], fd=None, uds=None,
                               pid=None, workers_max_rss=None,
                               reload=False, reload_dirs=[], reload_includes=[],
                               reload_excludes=[])


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with code {returncode}"


def rss_bytes(pid: int) -> int | None:
    """The process's resident set size, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024  # the kernel counts in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclasses.dataclass(eq=False)
class Worker:
    slot: int
    proc: subprocess.Popen[bytes]
    pipe: int  # our end of the child's --ready-fd socket; -1 once closed
    started_at: float
    state: State = State.STARTING
    ready_at: float | None = None
    retire_why: str | None = None  # it asked to be replaced (or outgrew --workers-max-rss)
    ever_ready: bool = False
    # Processes mode: the supervisor's end of the channel connections are
    # handed over on, until the acceptor takes it (take_handoff_channel).
    handoff: int = -1
    accept_sent: bool = False  # interpreters mode: told to accept
    _buffer: bytes = b""

    @classmethod
    def spawn(cls, slot: int, config: Config, listen_fds: tuple[int, ...] | None,
              secrets: dict[str, str] | None = None,
              metrics: tuple[dict[str, int], tuple[int, ...]] = ({}, ())) -> Worker:
        """Starts a worker with `config` (child_config), which goes into its
        environment, as `secrets` do (a command line is visible to every
        user); `metrics`: its metrics settings and the descriptor they name."""
        # The report channel, both ways: lines from the child, `accept` to it.
        reports, child_reports = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_end, write_end = reports.detach(), child_reports.detach()
        pipes = {"ready_fd": write_end}
        passed: tuple[int, ...] = (write_end,)
        handoff, child_handoff = -1, -1
        if listen_fds is None:
            # Connections go to the child as fds over a SEQPACKET socket (one
            # message each); it writes `closed N` back on it.
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            handoff, child_handoff = ours.detach(), theirs.detach()
            pipes["handoff_fd"] = child_handoff
            passed += (child_handoff,)
        else:
            passed += listen_fds
        passed += metrics[1]
        env = dict(os.environ)
        env[SUPERVISOR_PID_ENV] = str(os.getpid())
        env[WORKER_ID_ENV] = str(slot)  # its number in log lines (processes mode)
        env.update(secrets or {})
        env[WORKER_CONFIG_ENV] = dataclasses.replace(config, **pipes, **metrics[0]).to_json()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "subcorn._supervisor_child"],
                pass_fds=passed, stdin=subprocess.DEVNULL, env=env,
                # Its own process group: a Ctrl+C at the terminal reaches the
                # supervisor alone, which then stops the workers with one
                # SIGTERM each (a worker takes a second signal as "exit now").
                process_group=0)
        except BaseException:
            for fd in (read_end, handoff):
                if fd >= 0:
                    os.close(fd)
            raise
        finally:
            for fd in (write_end, child_handoff):
                if fd >= 0:
                    os.close(fd)
        os.set_blocking(read_end, False)
        return cls(slot, proc, read_end, time.monotonic(), handoff=handoff)

    def take_handoff_channel(self) -> int:
        """The supervisor's end of the hand-over channel, for the acceptor
        (which owns it from then on)."""
        fd, self.handoff = self.handoff, -1
        return fd

    def allow_accepting(self) -> None:
        """Interpreters mode: the worker may accept on the listening socket
        from now on (once its first shard serves)."""
        if self.accept_sent or self.pipe < 0:
            return
        self.accept_sent = True
        with contextlib.suppress(OSError):  # it exited: SIGCHLD tells
            os.write(self.pipe, b"accept\n")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read_lines(self) -> list[str] | None:
        """The whole lines the child wrote since the last call; None at end of
        file (the child closed the pipe: it exited)."""
        lines: list[str] = []
        while self.pipe >= 0:
            try:
                data = os.read(self.pipe, 4096)
            except BlockingIOError:
                break
            except OSError:  # ECONNRESET: it exited with our `accept` unread
                data = b""
            if not data:
                return None if not lines else lines
            self._buffer += data
            *done, self._buffer = self._buffer.split(b"\n")
            lines += [line.decode("ascii", "replace").strip() for line in done]
        return lines

    def close_pipe(self) -> None:
        if self.pipe >= 0:
            os.close(self.pipe)
            self.pipe = -1
        if self.handoff >= 0:
            os.close(self.handoff)
            self.handoff = -1

    def mark_ready(self) -> None:
        self.state = State.READY
        self.ready_at = time.monotonic()
        self.ever_ready = True

    def terminate(self, replaced: bool = False) -> None:
        """Asks the worker to drain and exit, once: a second SIGTERM would make
        it exit at once. `replaced`: a newer worker serves in its place
        (SIGUSR1, so that its open WebSockets get close 1012, not 1001)."""
        if self.state is not State.STOPPING:
            self.state = State.STOPPING
            self._signal(signal.SIGUSR1 if replaced else signal.SIGTERM)

    def reload_in_place(self) -> None:
        """--reload in interpreters mode: the worker replaces its shards'
        interpreters with fresh ones that import the new code (SIGHUP; only
        once it said `ready`: before, the engine does not handle it yet)."""
        self._signal(signal.SIGHUP)

    def kill(self) -> None:
        self.state = State.STOPPING
        self._signal(signal.SIGKILL)

    def reopen_logs(self) -> None:
        """The engine reopens its --access-log-file (SIGUSR2: its SIGUSR1
        means "replaced, drain")."""
        self._signal(signal.SIGUSR2)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    def stable(self, now: float, after: float) -> bool:
        """Whether it served for `after` seconds: its death is then not part of
        a crash loop."""
        return self.ready_at is not None and now - self.ready_at >= after
