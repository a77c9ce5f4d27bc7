"""Running wsload (bench/wsload/, the WebSocket load generator) and reading its numbers.

wsload is a small C++ program, built on first use into build/wsload with the
root's g++, cmake, zlib and OpenSSL (`python3.14 -m bench.load_ws` builds it;
the ws-* scenarios run that as their setup). A WebSocket client written in
Python would spend about as much CPU per message as the Python servers do
(framing, masking, a coroutine per message), so on this 2-core machine it
would be the bottleneck; wsload spends a few microseconds.
"""

import fcntl
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.load import LoadError, LoadResult, run_counting_cpu

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "bench" / "wsload"
BUILD = REPO / "build" / "wsload"
BINARY = BUILD / "wsload"
GRACE_SECONDS = 30  # beyond --duration: connecting, closing, a hung server


@dataclass(frozen=True)
class WsLoad:
    """What a ws-* scenario sends: the same for every server."""

    mode: str  # "echo" or "broadcast" (bench/wsload/client.h)
    kind: str  # "binary" or "text"
    size: int  # bytes per message
    deflate: bool  # offer permessage-deflate

    def argv(self) -> list[str]:
        argv = ["--mode", self.mode, "--kind", self.kind, "--size", str(self.size)]
        return argv + (["--deflate"] if self.deflate else [])


@dataclass(frozen=True)
class WsLoadResult(LoadResult):
    sent: int
    extensions: str  # the server's Sec-WebSocket-Extensions answer ("" when none)
    client_cpu_seconds: float  # wsload's own user+system CPU over the whole run


def build() -> str | None:
    """Builds wsload if it is missing or out of date; None if it worked, else why not."""
    BUILD.mkdir(parents=True, exist_ok=True)
    # A lock: two harness runs never build into the same directory at once.
    with open(BUILD / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        steps = [["cmake", "--build", str(BUILD)]]
        if not (BUILD / "build.ninja").exists():
            steps.insert(0, ["cmake", "-S", str(SOURCE), "-B", str(BUILD), "-G", "Ninja",
                             "-DCMAKE_BUILD_TYPE=Release"])  # fmt: skip
        for argv in steps:
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"building wsload: {exc}"
            if done.returncode != 0:
                return f"building wsload failed: {(done.stdout + done.stderr).strip()[-300:]}"
    return None


def run_wsload(
    host: str,
    port: int,
    path: str,
    load: WsLoad,
    connections: int,
    seconds: float,
    cpus: str,
    messages: int = 0,
) -> WsLoadResult:
    """One wsload run pinned to `cpus`; LoadError if it failed (its reason)."""
    argv = ["taskset", "-c", cpus, str(BINARY), "--host", host, "--port", str(port),
            "--path", path, "--connections", str(connections), "--duration", f"{seconds:g}",
            *load.argv()]  # fmt: skip
    if messages:
        argv += ["--messages", str(messages)]
    try:
        done, cpu_seconds = run_counting_cpu(argv, seconds + GRACE_SECONDS)
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wsload did not finish within {seconds + GRACE_SECONDS:g}s") from exc
    if done.returncode != 0:
        raise LoadError(done.stderr.strip()[-300:] or f"wsload exited {done.returncode}")
    try:
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise LoadError(f"unreadable wsload output: {done.stdout.strip()[-200:]}") from exc
    if data["lost"]:
        print(f"bench: wsload lost {data['lost']} connection(s): {data['lost_reason']}",
              file=sys.stderr, flush=True)  # fmt: skip
    return WsLoadResult(
        requests=data["messages"],
        seconds=data["seconds"],
        p50_us=float(data["p50_us"]),
        p99_us=float(data["p99_us"]),
        errors=data["errors"],
        sent=data["sent"],
        extensions=data["extensions"],
        client_cpu_seconds=cpu_seconds,
    )


if __name__ == "__main__":
    problem = build()
    if problem:
        sys.exit(problem)
    print(f"wsload built: {BINARY.relative_to(REPO)}")
