"""What one large upload costs the server: peak memory growth and CPU time.

    ./dev run python3.14 bench/upload.py --size 256M
    ./dev run python3.14 bench/upload.py --size 2G --threads 4 -- --mode processes

Starts subcorn (one worker) serving this file's WSGI `app`, which reads
wsgi.input in 64 KiB pieces and answers with the number of bytes it read.
A client in this process POSTs --size bytes with a Content-Length, generated
on the fly from one reused block (never held whole in memory), and checks the
answer. Reported, for the server's process tree:

- peak RSS growth: VmHWM after the upload minus VmRSS before it, per process
  (the peak is reset through /proc/PID/clear_refs before the upload, so what
  startup used does not count); the largest over the tree is the headline;
- CPU: user+system seconds the tree used during the upload (/proc/PID/stat);
- wall time of the upload, from the first byte sent to the answer.

Not a test and not part of bench/run.py: a measurement to run by hand, one at
a time (the machine is shared). Arguments after `--` go to subcorn as they are.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
APP_READ_SIZE = 64 * 1024
SEND_BLOCK = 1024 * 1024
START_TIMEOUT = 30.0
STALL_TIMEOUT = 60.0  # no progress for this long: the server stopped reading


def app(environ, start_response):
    """Reads the body in 64 KiB pieces, as a streaming upload handler does."""
    stream = environ["wsgi.input"]
    total = 0
    while piece := stream.read(APP_READ_SIZE):
        total += len(piece)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(total).encode()]


# ---- /proc --------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """The pid and every descendant's (the supervisor and its engine workers)."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                todo.extend(int(c) for c in children)
        except FileNotFoundError:
            continue
    return out


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    # Fields after the command (which may hold spaces) start at ')'; utime and
    # stime are fields 14 and 15 of the line, and sum every thread.
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def reset_peak(pid: int) -> bool:
    """Sets VmHWM back to the current RSS (Linux 4.0+: "5" > clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ---- the server ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(port: int, threads: int, extra: list[str]) -> subprocess.Popen:
    argv = [sys.executable, "-m", "subcorn", "upload:app", "--app-dir", str(HERE),
            "--interface", "wsgi", "--workers", "1", "--threads", str(threads),
            "--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning", *extra]
    proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"upload: the server exited with {proc.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"upload: the server did not listen within {START_TIMEOUT:.0f}s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# ---- the client ---------------------------------------------------------------------

def upload(port: int, size: int) -> bytes:
    """POSTs `size` bytes and returns the response body."""
    block = memoryview(os.urandom(SEND_BLOCK))
    sent = 0
    response = b""
    try:
        with socket.create_connection((HOST, port), timeout=STALL_TIMEOUT) as sock:
            head = (f"POST /upload HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {size}\r\n"
                    "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
            sock.sendall(head.encode())
            while sent < size:
                n = min(size - sent, SEND_BLOCK)
                sock.sendall(block[:n])
                sent += n
            while chunk := sock.recv(65536):
                response += chunk
    except TimeoutError:
        raise SystemExit(f"upload: no progress for {STALL_TIMEOUT:.0f}s after {sent} of "
                         f"{size} bytes were sent: the server stopped reading") from None
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"upload: the server answered {head.splitlines()[:1]}")
    return body


# ---- main ---------------------------------------------------------------------------

def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=parse_size, default=parse_size("256M"),
                   help="bytes to upload: 1048576, 512K, 256M, 2G (default 256M)")
    p.add_argument("--threads", type=int, default=1, help="subcorn --threads (default 1)")
    p.add_argument("extra", nargs=argparse.REMAINDER,
                   help="after --: more subcorn flags, such as --mode processes")
    args = p.parse_args()
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra

    port = free_port()
    proc = start_server(port, args.threads, extra)
    try:
        time.sleep(0.5)  # shards log and settle after the port opens
        pids = tree(proc.pid)
        rss_before = {pid: status_kib(pid, "VmRSS") for pid in pids}
        peaks_reset = all(reset_peak(pid) for pid in pids)
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        start = time.monotonic()
        body = upload(port, args.size)
        wall = time.monotonic() - start
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        growth = {pid: status_kib(pid, "VmHWM") - rss_before[pid] for pid in pids}
    finally:
        stop_server(proc)

    if body != str(args.size).encode():
        raise SystemExit(f"upload: the app read {body[:40]!r} bytes, not {args.size}")
    biggest = max(growth, key=growth.get)
    mib = args.size / (1 << 20)
    print(f"upload {mib:.0f} MiB, --threads {args.threads} {' '.join(extra)}".rstrip())
    print(f"  peak RSS growth  {growth[biggest] / 1024:8.1f} MiB"
          f"  (pid {biggest}; per process: "
          + ", ".join(f"{pid} {g / 1024:.1f}" for pid, g in growth.items()) + ")")
    if not peaks_reset:
        print("  (VmHWM could not be reset: the peak may include startup)")
    print(f"  server CPU       {cpu:8.2f} s   ({cpu / mib * 1000:.1f} ms/MiB)")
    print(f"  wall             {wall:8.2f} s")


if __name__ == "__main__":
    main()
