"""Connections beyond what the server can hold: the open-file limit
(RLIMIT_NOFILE) and --limit-max-connections.

At the open-file limit the acceptor must not spin: it stops accepting for a
moment, says so at most once a second, goes on serving the connections it
has, and accepts again once some close. Beyond --limit-max-connections a new
connection is answered 503 and closed.
"""

from __future__ import annotations

import os
import socket
import time

import harness
import pytest
from harness import RawConn

pytestmark = pytest.mark.subcorn_only

# Low enough that a flood of connections reaches it, high enough for the
# server to start (the interpreter, the extension, the shards' event loops).
FD_LIMIT = 64
FLOOD = 3 * FD_LIMIT
OUT_OF_FDS = "Too many open files"


@pytest.fixture
def low_fd_limit(monkeypatch):
    """Servers started in this test run with soft = hard = FD_LIMIT open files
    (prlimit: the server cannot raise its soft limit above the hard one)."""
    command = harness.base_command()
    monkeypatch.setattr(harness, "base_command",
                        lambda: ["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", *command])


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            pass
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree, in seconds."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def get(conn: RawConn, timeout: float = 5.0) -> int:
    conn.request("GET", "/")
    return conn.read_response(timeout=timeout).status


def served_by_new_connection(port: int, within: float) -> bool:
    """Whether a new connection gets a 200 within `within` seconds (retrying:
    the server notices closed connections asynchronously)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with RawConn(port, timeout=1.0) as c:
                if get(c, timeout=1.0) == 200:
                    return True
        except (OSError, TimeoutError, harness.IncompleteResponse):
            pass
        time.sleep(0.1)
    return False


def flood(port: int, count: int) -> list[socket.socket]:
    """Opens `count` connections that send nothing (the kernel completes the
    handshake whether or not the server accepts)."""
    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]


def closed_unanswered(conns: list[socket.socket]) -> int:
    """How many of `conns` the server closed without an answer (a connection
    it had no room for must wait, or be answered 503)."""
    count = 0
    for c in conns:
        c.setblocking(False)
        try:
            data = c.recv(4096, socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue  # open: accepted and waiting for a request, or in the backlog
        except ConnectionResetError:
            data = b""
        if not data.startswith(b"HTTP/1.1 503 "):
            count += 1
    return count


def log_lines(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


def check_out_of_fds(s) -> None:
    before = RawConn(s.port)
    assert get(before) == 200
    extra = flood(s.port, FLOOD)
    try:
        time.sleep(0.5)  # the server accepts what it can and runs out
        cpu_start, t0 = cpu_seconds(s.pid), time.monotonic()
        time.sleep(2.0)
        cpu = cpu_seconds(s.pid) - cpu_start
        elapsed = time.monotonic() - t0
        s.check_alive()
        # Backing off, the server's processes sleep; spinning on accept() they
        # would use a whole core (2 s of CPU in 2 s).
        assert cpu < 0.3 * elapsed, f"{cpu:.2f} s of CPU in {elapsed:.2f} s\n{s.describe()[-3000:]}"
        assert closed_unanswered(extra) == 0
        said = log_lines(s.output, OUT_OF_FDS)
        assert said, f"the server never ran out of file descriptors\n{s.describe()[-3000:]}"
        # At most one line a second (and a first one at once), whatever the rate.
        assert len(said) <= 5, said[:10]
        # The connection opened before the flood is still served.
        assert get(before) == 200
    finally:
        for c in extra:
            c.close()
        before.close()
    # Once the flood is gone there are file descriptors again.
    assert served_by_new_connection(s.port, within=10), s.describe()[-3000:]


def test_out_of_file_descriptors_backs_off_and_recovers(server, low_fd_limit):
    s = server("hello:app", "--timeout-keep-alive", "60")
    check_out_of_fds(s)


def test_out_of_file_descriptors_in_processes_mode(server, low_fd_limit):
    # The supervisor accepts and hands each connection to the worker process,
    # which is the one that runs out.
    s = server("hello:app", "--mode", "processes", "--timeout-keep-alive", "60")
    check_out_of_fds(s)


def wait_all_workers_serve(s, timeout: float = 20) -> None:
    """Until every worker serves (the server accepts as soon as the first one
    does, and the connection that found it ready counts until a shard has
    seen it close: a shard still starting up can delay that)."""
    deadline = time.monotonic() + timeout
    while "subcorn running on" not in s.stderr:
        s.check_alive()
        assert time.monotonic() < deadline, s.describe()
        time.sleep(0.05)
    time.sleep(0.3)


def check_max_connections(s) -> None:
    wait_all_workers_serve(s)
    first = [RawConn(s.port) for _ in range(3)]
    try:
        for c in first:
            assert get(c) == 200
        with RawConn(s.port) as fourth:
            try:
                fourth.request("GET", "/")
            except (BrokenPipeError, ConnectionResetError):
                pass  # it was already answered and closed
            response = fourth.read_until_close(timeout=5)
        assert response.startswith(b"HTTP/1.1 503 "), response
        # The three are still served.
        for c in first:
            assert get(c) == 200
        first.pop().close()
        # One closed: a new connection is served (once the server noticed).
        assert served_by_new_connection(s.port, within=5), s.describe()[-3000:]
    finally:
        for c in first:
            c.close()
    said = log_lines(s.output, "--limit-max-connections")
    assert said and len(said) <= 3, said


def test_limit_max_connections(server):
    s = server("hello:app", "--limit-max-connections", "3", "--timeout-keep-alive", "60",
               workers=2)
    check_max_connections(s)


def test_limit_max_connections_in_processes_mode(server):
    s = server("hello:app", "--limit-max-connections", "3", "--mode", "processes",
               "--timeout-keep-alive", "60", workers=2)
    check_max_connections(s)
