"""How soon a server answers its first request after it is started, and (for
subcorn) how soon all its workers serve. Run in the root, nothing else loading
the machine if you can help it:

    ./dev run sh bench/base.sh main /tmp/subcorn-base      # optional: main's build
    BENCH_SUBCORN_BASE=/tmp/subcorn-base ./dev run python3.14 -m bench.first_response

The app is the Django example as WSGI (examples/django_site, SQLite in a
temporary directory). Each round starts every server in turn: subcorn with 1
and with --workers W, subcorn-base (BENCH_SUBCORN_BASE) with W, gunicorn -w W
and gunicorn --preload -w W. A server's "first response" is the time from
starting its process until the first HTTP response to a new connection, polled
every 5 ms; "all ready" is when subcorn logs "Application startup complete"
(every shard serves), which gunicorn has no line for.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import servers

APP = "examples.django_site.mysite.wsgi:application"
POLL = 0.005
ALL_READY = b"Application startup complete"


@dataclass
class Row:
    label: str
    workers: int
    command: list[str]
    env: dict[str, str]
    first: list[float] = field(default_factory=list)
    all_ready: list[float] = field(default_factory=list)


def answers(port: int) -> bool:
    try:
        with socket.create_connection((servers.HOST, port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def measure(row: Row, workdir: Path, timeout: float) -> None:
    port = servers.free_port()
    argv = [*row.command, "--port" if row.label.startswith("subcorn") else "--bind",
            str(port) if row.label.startswith("subcorn") else f"{servers.HOST}:{port}"]
    log = workdir / f"{row.label}-{row.workers}.log"
    with open(log, "wb") as out:
        began = time.monotonic()
        proc = subprocess.Popen(argv, cwd=servers.REPO, env=row.env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = began + timeout
        while not answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{row.label} did not answer: {log.read_text()[-2000:]}")
            time.sleep(POLL)
        row.first.append(time.monotonic() - began)
        if row.label.startswith("subcorn"):
            while ALL_READY not in log.read_bytes():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{row.label}: not all workers ready")
                time.sleep(POLL)
            row.all_ready.append(time.monotonic() - began)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def rows(workers: int, data_dir: str) -> list[Row]:
    def env(server: str) -> dict[str, str]:
        return dict(servers.server_env(server), DATA_DIR=data_dir)

    subcorn = [servers.PYTHON, "-m", "subcorn", APP, "--interface", "wsgi", "--no-access-log",
               "--host", servers.HOST, "--workers"]
    gunicorn = [servers.PYTHON, "-m", "gunicorn", "-w", str(workers)]
    found = [
        Row("subcorn", 1, [*subcorn, "1"], env("subcorn")),
        Row("subcorn", workers, [*subcorn, str(workers)], env("subcorn")),
    ]
    if servers.BASE_DIR:
        found.append(Row(servers.BASE_NAME, workers, [*subcorn, str(workers)],
                         env(servers.BASE_NAME)))
    found += [
        Row("gunicorn", workers, [*gunicorn, APP], env("gunicorn")),
        Row("gunicorn --preload", workers, [*gunicorn, "--preload", APP], env("gunicorn")),
    ]
    return found


def seconds(values: list[float]) -> str:
    if not values:
        return "-"
    median = statistics.median(values)
    spread = f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else ""
    return f"{median:.2f} s{spread}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="subcorn-first-") as tmp:
        workdir = Path(tmp)
        table = rows(args.workers, str(workdir / "data"))
        # The first start migrates the SQLite database; it is not measured.
        measure(Row("subcorn", 1, table[0].command, table[0].env), workdir, args.timeout)
        load_before = os.getloadavg()
        for round_no in range(args.rounds):
            for row in table:
                measure(row, workdir, args.timeout)
                print(f"round {round_no + 1}: {row.label} -w {row.workers}: first response "
                      f"{row.first[-1]:.3f} s"
                      + (f", all ready {row.all_ready[-1]:.3f} s" if row.all_ready else ""),
                      file=sys.stderr, flush=True)
        load_after = os.getloadavg()
    lone = statistics.median(table[0].first)
    print(f"\n{args.rounds} rounds, medians (range); {os.cpu_count()} cores; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after\n")
    print("| server | workers | first response | ÷ subcorn 1 worker | all ready |")
    print("|---|---|---|---|---|")
    for row in table:
        ratio = statistics.median(row.first) / lone
        print(f"| {row.label} | {row.workers} | {seconds(row.first)} | {ratio:.2f}x | "
              f"{seconds(row.all_ready)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
