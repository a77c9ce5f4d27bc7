"""Benchmark subcorn against other servers: same app, same cores, wrk on loopback.

Run it in the project's root with `./dev bench [ARGS]` (which runs
`python3.14 bench/run.py [ARGS]` from the repo root); see --help. Prints one
Markdown table per scenario and, with --write-docs, keeps them in
docs/benchmarks.md.
"""

import argparse
import dataclasses
import os
import platform
import re
import shlex
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script (bench/run.py), so make `bench` importable from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import appcost, servers, tls
from bench.cputime import UNBALANCED_FACTOR, snapshot, unbalanced, window_cpu
from bench.load import Load, LoadError, LoadResult, run_wrk
from bench.load_h2 import H2Load, H2LoadResult, run_h2load
from bench.load_ws import WsLoadResult, run_wsload
from bench.scenarios import (
    BASE_CLEARTEXT, GRANIAN_WSGI, GUNICORN_SYNC, SCENARIOS, SUBCORN, SUBCORN_CLEARTEXT,
    SUBCORN_WSGI, UVICORN_WS, Scenario, Target,
)  # fmt: skip

DOCS = servers.REPO / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Sample:
    rps: float
    p50_us: float
    p99_us: float
    cpu_us_per_request: float
    errors: int
    busiest_thread: float  # its share of the server's CPU: 0.5 is two balanced workers
    # The load generator's own CPU per request or message (wsload, h2load), and
    # in WebSocket scenarios the server's answer to a permessage-deflate offer.
    client_cpu_us: float | None = None
    extensions: str | None = None
    # Over TLS: the version and cipher in use ("TLSv1.3 TLS_AES_128_GCM_SHA256"),
    # as h2load reports them, or as the readiness check negotiated (wrk says nothing).
    tls: str | None = None


@dataclass
class Series:
    """One server at one worker count, over all rounds."""

    target: servers.Target
    workers: int
    samples: list[Sample] = field(default_factory=list)
    failure: str | None = None  # it could not start: not tried again
    run_failures: list[str] = field(default_factory=list)

    def median(self, metric: Callable[[Sample], float]) -> float | None:
        values = [metric(s) for s in self.samples]
        return statistics.median(values) if values else None

    @property
    def label(self) -> str:
        return self.target.label


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def measure_once(
    scenario: Scenario,
    series: Series,
    args: argparse.Namespace,
    workdir: Path,
    round_no: int,
    tls_files: tls.TlsFiles | None = None,
) -> None:
    """Start the server, warm it up, load it once while counting its CPU, stop it."""
    label = f"round {round_no}: {series.label} w{series.workers}"
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", series.label).strip("-")
    logfile = workdir / f"{scenario.name}-{slug}-w{series.workers}-r{round_no}.log"
    try:
        server = servers.start(
            series.target, scenario.app(series.target), series.workers, scenario.server_cpus,
            workdir, logfile, args.start_timeout, scenario.path, scenario.check_body,
            scenario.wire, tls_files,
        )  # fmt: skip
    except servers.Unavailable as exc:
        series.failure = f"unavailable: {exc}"
        log(f"{label}: {series.failure}")
        return
    except servers.StartError as exc:
        series.failure = f"failed to start: {exc}"
        log(f"{label}: {series.failure} (log: {logfile})")
        return

    def load(seconds: float) -> LoadResult:
        if scenario.ws:
            return run_wsload(servers.HOST, server.port, scenario.path, scenario.ws,
                              scenario.connections, seconds, scenario.wrk_cpus)  # fmt: skip
        if server.wire.http2:
            return run_h2load(server.url, H2Load(scenario.connections, scenario.streams,
                                                 seconds, scenario.wrk_cpus))  # fmt: skip
        return run_wrk(server.url, Load(scenario.connections, 1, seconds, scenario.wrk_cpus,
                                        close=scenario.close))

    if scenario.ws:
        problem = probe_ws(scenario, server)
        if problem:
            servers.stop(server)
            series.failure = problem
            log(f"{label}: {problem} (log: {logfile})")
            return
    try:
        if args.warmup > 0:
            # Lets lazy imports, caches, JITs and late-starting workers settle.
            load(args.warmup)
        before = snapshot(server.proc.pid)
        result = load(args.duration)
        after = snapshot(server.proc.pid)
        exited = server.proc.poll()
    except LoadError as exc:
        series.run_failures.append(str(exc))
        log(f"{label}: load failed: {exc}")
        return
    finally:
        servers.stop(server)
    if exited is not None:
        series.run_failures.append(f"server exited ({exited}) during the run")
        log(f"{label}: {series.run_failures[-1]}: {servers.last_line(logfile)}")
        return
    if result.requests == 0:
        series.run_failures.append("no request completed")
        log(f"{label}: no request completed")
        return
    cpu = window_cpu(before, after)
    if cpu.vanished:
        log(f"{label}: {cpu.vanished} process(es) exited mid-run; their CPU may be missing")
    ws = result if isinstance(result, WsLoadResult) else None
    h2 = result if isinstance(result, H2LoadResult) else None
    sample = Sample(
        rps=result.rps,
        p50_us=result.p50_us,
        p99_us=result.p99_us,
        cpu_us_per_request=cpu.seconds * 1e6 / result.requests,
        errors=result.errors,
        busiest_thread=cpu.busiest_share(),
        client_cpu_us=(
            (ws or h2).client_cpu_seconds * 1e6 / result.requests if ws or h2 else None
        ),
        extensions=ws.extensions if ws else None,
        tls=(h2.tls if h2 and h2.tls else server.negotiated) if server.wire.tls else None,
    )
    series.samples.append(sample)
    unit = scenario.unit
    log(
        f"{label}: {sample.rps:,.0f} {unit}/s, p50 {fmt_latency(sample.p50_us)}, "
        f"p99 {fmt_latency(sample.p99_us)}, {sample.cpu_us_per_request:.1f} us CPU/{unit}"
        + (f", {load_generator(scenario)} {sample.client_cpu_us:.1f} us CPU/{unit}"
           if sample.client_cpu_us is not None else "")
        + (f", deflate: {sample.extensions or 'none'}" if ws and scenario.ws.deflate else "")
        + (f", {sample.tls}" if sample.tls else "")
        + (f", {sample.errors} errors" if sample.errors else "")
        + f", CPU split over threads {cpu.split()}"
    )
    if unbalanced(sample.busiest_thread, series.workers):
        log(f"{label}: UNBALANCED ROUND: one thread took {100 * sample.busiest_thread:.0f}% of "
            f"the server's CPU (more than {UNBALANCED_FACTOR:g}/{series.workers} of it): its "
            f"{series.workers} workers did not share the work; the table marks this round")


# The WebSocket check before a row is loaded: a few messages on 2 connections,
# each checked, within this many seconds.
PROBE_SECONDS = 5


def probe_ws(scenario: Scenario, server: servers.Running) -> str | None:
    """None if the server's WebSocket carries the scenario's messages, else why not
    (a server without WebSocket answers the upgrade with a plain 200)."""
    assert scenario.ws is not None
    try:
        result = run_wsload(servers.HOST, server.port, scenario.path, scenario.ws, 2,
                            PROBE_SECONDS, scenario.wrk_cpus, messages=2)  # fmt: skip
    except LoadError as exc:
        return f"no working WebSocket: {exc}"
    if result.errors:
        return f"no working WebSocket: {result.errors} wrong message(s) in the check"
    return None


@dataclass
class Outcome:
    table: list[Series]
    # The WSGI app's own CPU per request, once per round (goals only), called in
    # a main interpreter (as the other servers run it) and in a sub-interpreter.
    app_main_us: list[float] = field(default_factory=list)
    app_sub_us: list[float] = field(default_factory=list)


def run_scenario(
    scenario: Scenario, targets: Sequence[Target], args: argparse.Namespace, workdir: Path
) -> Outcome:
    outcome = Outcome([Series(t, workers) for t in targets for workers in scenario.workers])
    table = outcome.table
    # Made once per scenario; every server gets the same certificate and key.
    tls_files = tls.make(workdir / f"tls-{scenario.name}") if scenario.wire.tls else None
    if scenario.setup:
        problem = run_setup(scenario.setup)
        if problem:
            log(f"scenario {scenario.name}: {problem}")
            for series in table:
                series.failure = problem
            return outcome
    for round_no in range(1, args.rounds + 1):
        if scenario.goals and "wsgi" in scenario.apps:
            # Each round, like the servers, so the machine's load drifts over both.
            for sub, values in ((False, outcome.app_main_us), (True, outcome.app_sub_us)):
                app_us = measure_app(scenario, sub)
                if app_us is not None:
                    values.append(app_us)
        # Round robin, and each round starts one server later, so slow drifts in
        # the machine's load spread over every server instead of hitting one.
        shift = (round_no - 1) % len(table)
        for series in table[shift:] + table[:shift]:
            if series.failure is None:
                measure_once(scenario, series, args, workdir, round_no, tls_files)
    return outcome


def run_setup(module: str) -> str | None:
    """Run a scenario's setup module (it creates and seeds its database); None if it worked."""
    try:
        done = subprocess.run(
            [servers.PYTHON, "-m", module], cwd=servers.REPO, env=servers.server_env(),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"setup {module} timed out"
    if done.returncode != 0:
        return f"setup {module} failed: {done.stderr.strip()[-300:]}"
    log(done.stdout.strip())
    return None


def measure_app(scenario: Scenario, sub: bool) -> float | None:
    """The scenario's WSGI app's own CPU per request, called directly (bench/appcost.py)."""
    app = scenario.apps["wsgi"]
    # One core of the server's: the app alone runs on one thread.
    core = scenario.server_cpus.split(",")[0]
    where = ["--sub-interpreter"] if sub else []
    argv = ["taskset", "-c", core, servers.PYTHON, "-m", "bench.appcost", *where, app,
            scenario.path]  # fmt: skip
    try:
        done = subprocess.run(
            argv, cwd=servers.REPO, env=servers.server_env(), capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        log(f"app cost of {app}: timed out")
        return None
    for line in done.stdout.splitlines():
        if line.startswith(appcost.MARKER):
            value = float(line.removeprefix(appcost.MARKER))
            kind = "a sub-interpreter" if sub else "the main interpreter"
            log(f"app alone ({app}, no server, in {kind}): {value:.1f} us CPU/req")
            return value
    log(f"app cost of {app}: failed: {done.stderr.strip()[-300:]}")
    return None


# --- the table ------------------------------------------------------------


def fmt_latency(us: float) -> str:
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.2f} ms"


def fmt_ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}x"


def markdown_table(scenario: Scenario, table: list[Series], rounds: int) -> str:
    multi = len(scenario.workers) > 1
    base_label = scenario.baseline.label
    head = ["server"] + (["workers"] if multi else [])
    unit = scenario.unit
    head += [f"{unit}/s (median)", f"{unit}/s range", "p50", "p99", f"CPU/{unit}",
             f"{unit}/s ÷ {base_label}", f"CPU/{unit} ÷ {base_label}"]  # fmt: skip
    # Per round, not a median: each start deals connections to workers anew.
    # Wherever a row has several workers, so that an unbalanced round shows.
    busiest = any(s.workers > 1 for s in table)
    head += ["2w ÷ 1w"] if multi else []
    head += ["busiest thread, per round"] if busiest else []
    loader = load_generator(scenario)
    client = loader if loader in COUNTS_OWN_CPU else None
    head += [f"{client} CPU/{unit}"] if client else []
    deflate = bool(scenario.ws and scenario.ws.deflate)
    head += ["deflate (the server's answer)"] if deflate else []
    head += ["TLS"] if scenario.wire.tls else []
    head += ["errors", "ok rounds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_key = {(s.target, s.workers): s for s in table}
    for series in table:
        cells = [series.label] + ([str(series.workers)] if multi else [])
        rps = series.median(lambda s: s.rps)
        if rps is None:
            reason = series.failure or "; ".join(dict.fromkeys(series.run_failures)) or "no data"
            cells.append("**" + reason.replace("|", "\\|") + "**")
            cells += [""] * (len(head) - len(cells))
            lines.append("| " + " | ".join(cells) + " |")
            continue
        cpu = series.median(lambda s: s.cpu_us_per_request)
        base = by_key.get((scenario.baseline, series.workers))
        base_rps = base.median(lambda s: s.rps) if base else None
        base_cpu = base.median(lambda s: s.cpu_us_per_request) if base else None
        values = [s.rps for s in series.samples]
        cells += [
            f"{rps:,.0f}",
            f"{min(values):,.0f}-{max(values):,.0f}" if len(values) > 1 else "-",
            fmt_latency(series.median(lambda s: s.p50_us) or 0),
            fmt_latency(series.median(lambda s: s.p99_us) or 0),
            f"{cpu:.1f} µs",
            fmt_ratio(rps, base_rps),
            fmt_ratio(cpu, base_cpu),
        ]
        if multi:
            one = by_key.get((series.target, 1))
            one_rps = one.median(lambda s: s.rps) if one else None
            cells.append(fmt_ratio(rps, one_rps) if series.workers != 1 else "")
        if busiest:
            cells.append(busiest_cell(series))
        if client:
            cells.append(f"{series.median(lambda s: s.client_cpu_us or 0.0):.1f} µs")
        if deflate:
            answers = dict.fromkeys(f"`{s.extensions}`" if s.extensions else "declined"
                                    for s in series.samples)  # fmt: skip
            cells.append(", ".join(answers))
        if scenario.wire.tls:  # "-" on the cleartext regression row
            cells.append(", ".join(dict.fromkeys(s.tls or "-" for s in series.samples)))
        cells += [str(sum(s.errors for s in series.samples)), f"{len(values)}/{rounds}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def busiest_cell(series: Series) -> str:
    """The busiest thread's share in each round, an unbalanced one marked."""
    return " ".join(
        f"**{100 * s.busiest_thread:.0f}% UNBALANCED**"
        if unbalanced(s.busiest_thread, series.workers) else f"{100 * s.busiest_thread:.0f}%"
        for s in series.samples
    )


def unbalanced_line(table: list[Series]) -> str | None:
    """Under the table, when any round was unbalanced: which, loudly."""
    found = [
        f"{series.label} w{series.workers} round {i + 1} ({100 * s.busiest_thread:.0f}%)"
        for series in table
        for i, s in enumerate(series.samples)
        if unbalanced(s.busiest_thread, series.workers)
    ]
    if not found:
        return None
    return (f"**UNBALANCED ROUNDS** (one thread took more than {UNBALANCED_FACTOR:g}/W of the "
            f"server's CPU with W workers; that row's medians understate what its workers can "
            f"do): {', '.join(found)}.")


# The targets for the framework scenarios, reported under their tables
# (not asserted): subcorn WSGI at 2 workers against gunicorn sync and granian WSGI.
GOAL_RPS_VS_SYNC = 2.0  # at least this many times gunicorn sync's req/s
GOAL_CPU_VS_SYNC = 0.5  # at no more than this share of its CPU per request
GOAL_RPS_VS_GRANIAN = 1.0  # ahead of granian's WSGI interface


def verdict(value: float | None, base: float | None, met: Callable[[float], bool]) -> str:
    """A target's ratio of two medians, and whether it is met."""
    if value is None or not base:
        return "n/a (no data)"
    ratio = value / base
    return f"**{ratio:.2f}x, {'met' if met(ratio) else 'missed'}**"


def goals_line(table: list[Series], app_main_us: list[float], app_sub_us: list[float]) -> str:
    """Whether this run meets the issue's targets, from the table's medians, and
    how much of the CPU per request is the app's own."""
    by_target = {s.target: s for s in table}

    def medians(target: Target) -> tuple[float | None, float | None]:
        series = by_target.get(target)
        if series is None:
            return None, None
        return series.median(lambda s: s.rps), series.median(lambda s: s.cpu_us_per_request)

    rps, cpu = medians(SUBCORN_WSGI)
    sync_rps, sync_cpu = medians(GUNICORN_SYNC)
    granian_rps, _ = medians(GRANIAN_WSGI)
    goals = (
        "Targets (the issue's, for subcorn WSGI; ratios of the medians above): "
        f"req/s at least {GOAL_RPS_VS_SYNC:g}x gunicorn sync's: "
        f"{verdict(rps, sync_rps, lambda r: r >= GOAL_RPS_VS_SYNC)}; "
        f"CPU/req at most {GOAL_CPU_VS_SYNC:g}x gunicorn sync's: "
        f"{verdict(cpu, sync_cpu, lambda r: r <= GOAL_CPU_VS_SYNC)}; "
        f"req/s ahead of granian WSGI's: "
        f"{verdict(rps, granian_rps, lambda r: r > GOAL_RPS_VS_GRANIAN)}."
    )
    if not app_main_us or not app_sub_us:
        return goals
    app_main, app_sub = statistics.median(app_main_us), statistics.median(app_sub_us)
    # Each server against the app's cost where that server runs it.
    serving = [
        f"{label} {value - app:.0f} µs"
        for label, value, app in (
            ("subcorn WSGI", cpu, app_sub), ("gunicorn sync", sync_cpu, app_main),
        )
        if value is not None
    ]  # fmt: skip
    return goals + (
        f"\n\nThe app alone (`bench/appcost.py`: the WSGI app called in a loop, no server "
        f"and no socket, the fastest of 10 batches; medians of {len(app_main_us)} rounds): "
        f"{app_main:.0f} µs of CPU per request in a main interpreter (where gunicorn, "
        f"uvicorn and granian run it), {app_sub:.0f} µs in a sub-interpreter (where subcorn "
        "does). Serving, and running the app under load, beyond its own cost (CPU/req "
        f"minus that): {', '.join(serving)}."
    )


# The target for TLS and HTTP/2 (h2, h2-tls, https), stated under those
# tables: subcorn's CPU per request at most this share of granian's, same run.
GOAL_CPU_VS_PEER = 0.6


def peer_goal_line(scenario: Scenario, table: list[Series]) -> str:
    """Whether subcorn meets the CPU target against the scenario's peer and, where
    the table has them, the cleartext regression rows."""
    assert scenario.cpu_goal_peer is not None
    by_target = {s.target: s for s in table}

    def cpu(target: Target) -> float | None:
        series = by_target.get(target)
        return series.median(lambda s: s.cpu_us_per_request) if series else None

    peer = scenario.cpu_goal_peer
    line = (
        f"Target (the issue's; ratio of the medians above): subcorn's CPU/req over "
        f"{scenario.wire.value} at most {GOAL_CPU_VS_PEER:g}x {peer.label}'s: "
        f"{verdict(cpu(SUBCORN), cpu(peer), lambda r: r <= GOAL_CPU_VS_PEER)}."
    )
    cleartext = cpu(SUBCORN_CLEARTEXT)
    if cleartext is None:
        return line
    base = cpu(BASE_CLEARTEXT)
    against_base = (
        f"; ÷ {BASE_CLEARTEXT.label}: {verdict(cleartext, base, lambda r: r <= 1.0)} "
        "(no more CPU than before)" if base is not None
        else " (with `--servers` naming subcorn-base, also its ratio to the build before)"
    )  # fmt: skip
    return line + (
        f" Regression row: {SUBCORN_CLEARTEXT.label} {cleartext:.1f} µs CPU/req, to compare "
        f"with the `hello` table's subcorn row{against_base}."
    )


# --- the record in docs/benchmarks.md -------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0))
    return (
        f"`nproc` = {nproc}, {model}, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def load_generator(scenario: Scenario) -> str:
    """The load generator a scenario runs: wsload (built from this tree), h2load or wrk."""
    if scenario.ws:
        return "wsload"
    return "h2load" if scenario.wire.http2 else "wrk"


# The load generators that report their own CPU (wrk cannot), and those that
# come from Debian (wsload is built from this tree).
COUNTS_OWN_CPU = frozenset({"wsload", "h2load"})
PACKAGED = frozenset({"wrk", "h2load"})


def tool_versions(
    names: Sequence[str], packages: Sequence[str] = (), loader: str = "wrk",
    tls_in_use: bool = False,
) -> str:  # fmt: skip
    parts = [f"{name} {servers.version(name)}" for name in (*names, *packages)]
    if tls_in_use:  # the OpenSSL that Python's ssl (uvicorn, hypercorn) is built with
        parts.append(f"Python's ssl: {ssl.OPENSSL_VERSION}")
    if loader not in PACKAGED:
        return ", ".join(parts)
    # `wrk -v` prints "wrk debian/4.1.0-4+b1 ...", `h2load --version` "h2load nghttp2/1.70.0".
    flag = "-v" if loader == "wrk" else "--version"
    try:
        done = subprocess.run(
            [loader, flag], check=False, capture_output=True, text=True, timeout=10
        )
        version = (done.stdout + done.stderr).split()[1]
    except OSError, IndexError, subprocess.TimeoutExpired:
        version = "?"
    parts.append(f"{loader} {version}")
    return ", ".join(parts)


def scenario_section(
    scenario: Scenario,
    table_md: str,
    table: list[Series],
    command: str,
    versions: str,
    load_before: float,
) -> str:
    failures = [
        f"- {s.label} w{s.workers}: {s.failure or '; '.join(dict.fromkeys(s.run_failures))}"
        for s in table
        if s.failure or s.run_failures
    ]
    notes = ("\n\nFailures:\n\n" + "\n".join(failures)) if failures else ""
    return (
        f"### Scenario `{scenario.name}`\n\n"
        f"{scenario.about}\n\n"
        f"- Command: `{command}`\n"
        f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z')}\n"
        f"- Machine: {machine()}\n"
        # Other work on a shared machine shows up here, on top of the run's own 1-2.
        f"- Load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}\n"
        f"- Versions: {versions}\n\n"
        f"{table_md}{notes}\n"
    )


def write_docs(path: Path, scenario: str, section: str) -> None:
    """Replace this scenario's marked section in the docs, or append it."""
    begin, end = f"<!-- bench:{scenario}:begin -->", f"<!-- bench:{scenario}:end -->"
    block = f"{begin}\n{section}{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --- command line ---------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--servers", default=",".join(servers.NAMES),
        help="comma-separated servers to run (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS),
        help="comma-separated scenarios to run (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved runs per server; medians reported"
    )
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds of each measured wrk run"
    )
    parser.add_argument(
        "--warmup", type=float, default=2, help="seconds of wrk before each measured run"
    )
    parser.add_argument(
        "--start-timeout", type=float, default=30,
        help="seconds a server may take to answer its first request",
    )  # fmt: skip
    parser.add_argument(
        "--write-docs", action="store_true",
        help=f"also write each scenario's table into {DOCS.relative_to(servers.REPO)}",
    )  # fmt: skip
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    parser.add_argument(
        "--uvicorn-ws", default=UVICORN_WS[0],
        help="uvicorn's WebSocket implementation(s) in the ws-* scenarios, comma-separated, "
        "or 'all' for a row each (default: %(default)s, the fastest measured)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.uvicorn_ws = (
        list(UVICORN_WS) if args.uvicorn_ws == "all"
        else _split(parser, "uvicorn WebSocket implementation", args.uvicorn_ws, UVICORN_WS)
    )  # fmt: skip
    args.server_names = _split(parser, "server", args.servers, servers.ALL_NAMES)
    args.scenario_names = _split(parser, "scenario", args.scenarios, tuple(SCENARIOS))
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--rounds must be >= 1, --duration > 0 and --warmup >= 0")
    return args


def _split(
    parser: argparse.ArgumentParser, what: str, value: str, known: Sequence[str]
) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        parser.error(f"unknown {what}(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    # Keep the canonical order: subcorn first, nginx last.
    return [n for n in known if n in names]


def with_uvicorn_ws(target: Target, implementations: Sequence[str]) -> list[Target]:
    """A WebSocket row of uvicorn becomes one row per chosen --ws implementation."""
    if target.server != "uvicorn" or target.ws is None:
        return [target]
    return [dataclasses.replace(target, ws=ws) for ws in implementations]


def check_machine(scenarios: Sequence[Scenario]) -> None:
    loaders = {load_generator(s) for s in scenarios} & PACKAGED
    for tool in ("taskset", *sorted(loaders)):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} not found (run inside the project's root: ./dev bench)")
    allowed = os.sched_getaffinity(0)
    for scenario in scenarios:
        for cpus in (scenario.server_cpus, scenario.wrk_cpus):
            wanted = {int(c) for c in cpus.split(",")}
            if not wanted <= allowed:
                sys.exit(f"bench: scenario {scenario.name} needs cores {cpus}; have {allowed}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = [SCENARIOS[name] for name in args.scenario_names]
    check_machine(scenarios)
    command = "./dev bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="subcorn-bench-"))
    failed = False
    versions: dict[tuple[str, ...], str] = {}  # by servers and packages: asked once
    # The framework apps' SQLite files: created by each scenario's setup, read by
    # every server (which inherit this environment).
    os.environ["BENCH_DB_DIR"] = str(workdir / "db")
    for scenario in scenarios:
        targets = [
            replaced
            for t in scenario.targets
            if t.server in args.server_names
            for replaced in with_uvicorn_ws(t, args.uvicorn_ws)
        ]
        if not targets:
            log(f"scenario {scenario.name}: none of the chosen servers runs it; skipped")
            continue
        labels = ", ".join(t.label for t in targets)
        log(f"scenario {scenario.name}: {labels}, {args.rounds} round(s)")
        load_before = os.getloadavg()[0]
        outcome = run_scenario(scenario, targets, args, workdir)
        table = outcome.table
        table_md = markdown_table(scenario, table, args.rounds)
        if warning := unbalanced_line(table):
            table_md += "\n\n" + warning
            log(warning)
        if scenario.goals:
            table_md += "\n\n" + goals_line(table, outcome.app_main_us, outcome.app_sub_us)
        if scenario.cpu_goal_peer:
            table_md += "\n\n" + peer_goal_line(scenario, table)
        print(f"\n## {scenario.name}\n\n{table_md}\n", flush=True)
        failed = failed or any(s.failure or s.run_failures for s in table)
        if args.write_docs:
            # The servers this scenario ran, in the order of its rows, and its frameworks.
            names = tuple(dict.fromkeys(t.server for t in targets))
            key = (*names, *scenario.packages, load_generator(scenario), str(scenario.wire.tls))
            if key not in versions:
                versions[key] = tool_versions(
                    names, scenario.packages, load_generator(scenario), scenario.wire.tls
                )
            section = scenario_section(
                scenario, table_md, table, command, versions[key], load_before
            )
            write_docs(DOCS, scenario.name, section)
            log(f"wrote scenario {scenario.name} to {DOCS}")
    if args.keep_logs or failed:
        log(f"server logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
