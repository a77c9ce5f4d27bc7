"""What idle keep-alive connections cost the server, and whether it gives the
memory back when they close.

    ./dev run python3.14 bench/idle.py --connections 10000
    ./dev run python3.14 bench/idle.py --connections 10000 --server uvicorn

Starts the server (one worker) with a hello WSGI app (uvicorn: the same
answer from an ASGI app, with httptools and uvloop), opens N connections that each send one request
and read its answer, then keeps them open and idle. Reports the resident
memory (VmRSS, summed over the server's process tree) before, with the N idle
connections, and 3 s after they all closed. Not a test: run by hand, alone.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


async def asgi_app(scope, receive, send):
    """The same answer as ASGI (uvicorn's WSGI adapter is a thread pool)."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


def tree_rss(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            continue
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def open_idle(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection((HOST, port), timeout=30)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
        socks.append(sock)
    for sock in socks:
        data = b""
        while not data.endswith(b"hello"):
            chunk = sock.recv(4096)
            if not chunk:
                raise SystemExit("a connection closed before its answer")
            data += chunk
    return socks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--server", choices=["subcorn", "uvicorn"], default="subcorn")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 2 * args.connections + 1000)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # the server inherits it
    port = free_port()
    common = ["--host", HOST, "--port", str(port), "--workers", "1", "--no-access-log",
              "--timeout-keep-alive", "600", "--log-level", "warning"]
    if args.server == "subcorn":
        argv = [sys.executable, "-m", "subcorn", "idle:app", "--app-dir", str(HERE),
                "--interface", "wsgi", *common]
    else:
        argv = [sys.executable, "-m", "uvicorn", "idle:asgi_app", "--app-dir", str(HERE),
                "--http", "httptools", "--loop", "uvloop", *common]
    proc = subprocess.Popen(argv, start_new_session=True)
    try:
        wait_ready(port)
        for sock in open_idle(port, 200):  # warm the allocator and the app up
            sock.close()
        time.sleep(1)
        before = tree_rss(proc.pid)
        socks = open_idle(port, args.connections)
        time.sleep(1)
        during = tree_rss(proc.pid)
        for sock in socks:
            sock.close()
        time.sleep(3)
        after = tree_rss(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    n = args.connections
    print(f"{args.server}: {n} idle connections: RSS {before >> 20} MiB -> {during >> 20} MiB "
          f"({(during - before) / n:,.0f} bytes each); 3 s after closing: {after >> 20} MiB")


if __name__ == "__main__":
    main()
