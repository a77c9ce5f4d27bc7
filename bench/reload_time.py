"""How long from saving a file to the first response with the new code:
subcorn --reload (interpreters replaced in place) against uvicorn --reload
(its worker process restarted), in the same run, rounds interleaved.

    ./dev run python3.14 bench/reload_time.py --rounds 7
    ./dev run python3.14 bench/reload_time.py --rounds 7 --app starlette

Every server serves its own copy of the app from its own temporary directory,
with its defaults for --reload (watchfiles on both). A round saves the app
with a new version string and then asks, over a new connection every 2 ms,
until the answer carries that version; the time is from just before the
write to that answer (a refused connection, while uvicorn restarts, is
retried). The servers take turns round by round, so a busy moment of the
machine falls on all of them alike. No .pyc files are written (uvicorn
would otherwise import a stale one when two saves fall in the same second
at the same size; subcorn removes the changed file's).

Apps: `hello` (a bare ASGI callable: the server's own cost) and `starlette`
(a Starlette app with a few routes: an import that costs something).
Not a test: run by hand, and say what else was running (the load average
before and after is printed).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
POLL_INTERVAL = 0.002
ROUND_TIMEOUT = 30.0
START_TIMEOUT = 30.0
SETTLE = 1.2  # between rounds: the old interpreters or process finish draining

APPS = {
    "hello": '''\
VERSION = {version!r}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]}})
    await send({{"type": "http.response.body", "body": VERSION.encode()}})
''',
    "starlette": '''\
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

VERSION = {version!r}


async def version(request):
    return PlainTextResponse(VERSION)


async def item(request):
    return JSONResponse({{"id": request.path_params["id"]}})


app = Starlette(routes=[Route("/", version), Route("/items/{{id:int}}", item)])
''',
}


@dataclass
class Contender:
    name: str
    args: list[str]
    directory: Path
    port: int
    proc: subprocess.Popen | None = None
    times: list[float] = field(default_factory=list)
    log: Path | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(port: int, timeout: float = 2.0) -> bytes | None:
    """The body of GET / over a new connection; None when nothing answers."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    return body if head.startswith(b"HTTP/1.1 200") else None


def write_app(c: Contender, app: str, version: str) -> None:
    (c.directory / "app.py").write_text(APPS[app].format(version=version))


def start(c: Contender) -> None:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    c.log = c.directory.parent / f"{c.name}.log"
    with open(c.log, "wb") as out:
        c.proc = subprocess.Popen(c.args, cwd=c.directory, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)


def wait_for(c: Contender, version: str, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    want = version.encode()
    while True:
        body = get(c.port)
        if body is not None and want in body:
            return time.perf_counter()
        if c.proc.poll() is not None:
            raise SystemExit(f"{c.name} exited:\n{c.log.read_text()}")
        if time.perf_counter() > deadline:
            raise SystemExit(f"{c.name}: no {version} within {timeout}s:\n{c.log.read_text()}")
        time.sleep(POLL_INTERVAL)


def contenders(app: str, base: Path, subcorn_workers: list[int]) -> list[Contender]:
    python = sys.executable
    found = []
    for workers in subcorn_workers:
        d = base / f"subcorn-{workers}"
        d.mkdir()
        port = free_port()
        found.append(Contender(
            f"subcorn --workers {workers}",
            [python, "-m", "subcorn", "app:app", "--reload", "--mode", "interpreters",
             "--workers", str(workers), "--host", HOST, "--port", str(port),
             "--no-access-log", "--lifespan", "off"], d, port))
    d = base / "uvicorn"
    d.mkdir()
    port = free_port()
    found.append(Contender(
        "uvicorn", [python, "-m", "uvicorn", "app:app", "--reload", "--host", HOST,
                    "--port", str(port), "--no-access-log", "--lifespan", "off"], d, port))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--app", choices=sorted(APPS), default="hello")
    parser.add_argument("--subcorn-workers", type=int, action="append",
                        help="subcorn's --workers (repeatable; default: 1 and 2)")
    args = parser.parse_args()
    workers = args.subcorn_workers or [1, 2]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="reload-bench-") as tmp:
        field_ = contenders(args.app, Path(tmp), workers)
        try:
            for c in field_:
                write_app(c, args.app, "v0")
                start(c)
            for c in field_:
                wait_for(c, "v0", START_TIMEOUT)
            time.sleep(SETTLE)
            for n in range(1, args.rounds + 1):
                # Who goes first turns with each round.
                order = field_[n % len(field_):] + field_[:n % len(field_)]
                for c in order:
                    version = f"v{n}-{'x' * n}"  # a new size each round, as well
                    saved = time.perf_counter()
                    write_app(c, args.app, version)
                    c.times.append(wait_for(c, version, ROUND_TIMEOUT) - saved)
                    time.sleep(SETTLE)
        finally:
            for c in field_:
                if c.proc and c.proc.poll() is None:
                    c.proc.terminate()
            for c in field_:
                if c.proc:
                    try:
                        c.proc.wait(20)
                    except subprocess.TimeoutExpired:
                        os.killpg(c.proc.pid, 9)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\napp: {args.app}, {args.rounds} rounds, save -> first response with the new code (ms)")
    print(f"{'server':<22} {'median':>8} {'min':>8} {'max':>8}   all")
    for c in field_:
        ms = [t * 1000 for t in c.times]
        print(f"{c.name:<22} {statistics.median(ms):8.0f} {min(ms):8.0f} {max(ms):8.0f}   "
              + " ".join(f"{t:.0f}" for t in ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
