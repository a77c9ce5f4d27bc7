"""Running wrk against a server and reading its numbers."""

import json
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPORT_SCRIPT = Path(__file__).resolve().parent / "report.lua"
MARKER = "BENCH_RESULT "
# wrk stops itself after --duration; this is for a wrk that hangs anyway
# (e.g. a server that stops answering and a connect that never times out).
GRACE_SECONDS = 30


class LoadError(Exception):
    """wrk failed, hung or printed nothing we can read."""


@dataclass(frozen=True)
class Load:
    """What to send: the same shape for every server in a scenario."""

    connections: int
    threads: int
    seconds: float
    cpus: str  # taskset -c list for wrk itself
    # Connection: close on every request: a new connection per request (the
    # close scenario), as clients without keep-alive make.
    close: bool = False


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_us: float
    p99_us: float
    errors: int  # connect/read/write/timeout errors plus non-2xx/3xx responses

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def run_counting_cpu(
    argv: list[str], timeout: float
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Runs a load generator to its end: its output, and the user+system CPU
    seconds it used (the children's rusage grows by its own once it is waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_wrk(url: str, load: Load) -> LoadResult:
    # A read timeout well above any sane p99, so a slow server shows as slow
    # rather than as a pile of wrk timeouts.
    argv = [
        "taskset", "-c", load.cpus,
        "wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{load.seconds:g}s",
        "--timeout", "10s", "-s", str(REPORT_SCRIPT),
        *(["-H", "Connection: close"] if load.close else []), url,
    ]  # fmt: skip
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=load.seconds + GRACE_SECONDS
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk did not finish within {load.seconds + GRACE_SECONDS:g}s") from exc
    if done.returncode != 0:
        raise LoadError(f"wrk exited {done.returncode}: {done.stderr.strip()[-200:]}")
    return parse_report(done.stdout)


def parse_report(stdout: str) -> LoadResult:
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            break
    else:
        raise LoadError(f"no {MARKER.strip()} line in wrk output: {stdout.strip()[-200:]}")
    errors = sum(
        data[f"errors_{kind}"] for kind in ("connect", "read", "write", "status", "timeout")
    )
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_us=float(data["p50_us"]),
        p99_us=float(data["p99_us"]),
        errors=errors,
    )
