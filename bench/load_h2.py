"""Running h2load (nghttp2's HTTP/2 load generator) against a server and reading its numbers.

h2load 1.70 writes its measurements as JSON (`--output-file`); the connection's
application protocol (and over TLS the version and cipher) is only in its
stdout, so both are read. A server that does not speak HTTP/2 fails the run
with the reason rather than being measured over something else: over TLS h2load
offers only `h2` in ALPN, and the protocol it reports must be HTTP/2.
"""

import dataclasses
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.load import LoadError, LoadResult, run_counting_cpu

GRACE_SECONDS = 30  # beyond the duration: connecting, a hung server


@dataclass(frozen=True)
class H2Load:
    """What to send: the same for every server in a scenario."""

    connections: int
    streams: int  # concurrent streams per connection (h2load -m)
    seconds: float
    cpus: str  # taskset -c list for h2load itself


@dataclass(frozen=True)
class H2LoadResult(LoadResult):
    protocol: str  # what h2load says it spoke: "h2c" (cleartext) or "h2" (ALPN)
    tls: str | None  # "TLSv1.3 TLS_AES_128_GCM_SHA256" over TLS, else None
    # h2load's own user+system CPU over the whole run (connecting included): on
    # its one core it is the ceiling of these tables, as wrk is in hello.
    client_cpu_seconds: float = 0.0


def argv(url: str, load: H2Load, report: Path) -> list[str]:
    # -D in milliseconds: h2load takes a whole number with a unit.
    command = ["taskset", "-c", load.cpus, "h2load", "-t1", f"-c{load.connections}",
               f"-m{load.streams}", f"-D{round(load.seconds * 1000)}ms",
               "--output-file", str(report)]  # fmt: skip
    if url.startswith("https:"):
        command.append("--alpn-list=h2")  # no fall-back to HTTP/1.1
    return [*command, url]


def run_h2load(url: str, load: H2Load) -> H2LoadResult:
    with tempfile.TemporaryDirectory(prefix="h2load-") as tmp:
        report = Path(tmp) / "report.json"
        try:
            done, cpu_seconds = run_counting_cpu(argv(url, load, report),
                                                 load.seconds + GRACE_SECONDS)  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            limit = load.seconds + GRACE_SECONDS
            raise LoadError(f"h2load did not finish within {limit:g}s") from exc
        if done.returncode != 0:
            raise LoadError(f"h2load exited {done.returncode}: {_tail(done.stdout + done.stderr)}")
        try:
            text = report.read_text()
        except OSError as exc:
            raise LoadError(f"h2load wrote no report: {_tail(done.stdout + done.stderr)}") from exc
    result = parse(done.stdout, text, tls=url.startswith("https:"))
    return dataclasses.replace(result, client_cpu_seconds=cpu_seconds)


def _tail(text: str) -> str:
    return " ".join(text.split())[-300:]


def _stdout_field(stdout: str, name: str) -> str | None:
    match = re.search(rf"^{re.escape(name)}: *(\S+)", stdout, re.MULTILINE)
    return match.group(1) if match else None


def parse(stdout: str, report_json: str, tls: bool) -> H2LoadResult:
    """The numbers of one run from h2load's stdout and its JSON report; LoadError
    if the run did not speak HTTP/2 or completed nothing."""
    protocol = _stdout_field(stdout, "Application protocol")
    wanted = "h2" if tls else "h2c"
    if protocol is None:
        # h2load prints the protocol when the first connection is set up.
        raise LoadError(f"no HTTP/2 connection was made: {_tail(stdout)}")
    if protocol != wanted:
        raise LoadError(f"h2load spoke {protocol}, not {wanted}")
    try:
        data = json.loads(report_json)["measurements"]
        requests = data["requests"]
        latency = data["performance"]["request"]
        done, failed = int(requests["done"]), int(requests["failed"])
        seconds = float(data["duration"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LoadError(f"unreadable h2load report: {exc!r}") from exc
    if done == 0:
        raise LoadError(f"h2load completed no request: {_tail(stdout)}")
    version, cipher = _stdout_field(stdout, "TLS Protocol"), _stdout_field(stdout, "Cipher")
    return H2LoadResult(
        requests=done,
        seconds=seconds,
        # In seconds in the report; null when no request completed.
        p50_us=float(latency["median"] or 0) * 1e6,
        p99_us=float(latency["p99"] or 0) * 1e6,
        # h2load's "failed" holds the non-2xx/3xx answers, the streams reset or
        # broken and the requests that timed out ("errored" and "timeout" are parts of it).
        errors=failed,
        protocol=protocol,
        tls=f"{version} {cipher}" if tls and version and cipher else None,
    )
