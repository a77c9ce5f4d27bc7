"""Runs the Autobahn|Testsuite fuzzingclient against a server serving echo_app.

    python3.14 tests/autobahn/driver.py --server subcorn
    python3.14 tests/autobahn/driver.py --server uvicorn --full
    python3.14 tests/autobahn/driver.py --agent mine -- CMD ARGS... # "{port}" in ARGS

Starts the server on a free port of 127.0.0.1, checks that it answers a
WebSocket handshake (and whether it accepts permessage-deflate), runs the
cases of sections 1-13 with a time bound (by default all but the large
compression cases: a few minutes; --full: all, about 20), and writes into
build/reports/: autobahn.md (the summary table, also printed), autobahn.xml
(JUnit, one testcase per case) and autobahn/ (wstest's own HTML and JSON
reports, its output and the server's). Exits 0 when no case failed, 1 when
one did, 2 when the suite could not run at all (the reason on one line).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import results
from server_under_test import ServerProcess, SuiteError, probe_handshake, shown
from wstest_env import REPO, Wstest, WstestUnavailable, ensure_wstest

HERE = Path(__file__).resolve().parent
REPORTS = REPO / "build" / "reports"

# What "--server NAME" runs; "{port}" is filled in. uvicorn is the peer that
# proves the harness (`--ws websockets`: the websockets library's protocol,
# which accepts permessage-deflate).
SERVERS = {
    "subcorn": [sys.executable, "-m", "subcorn", "echo_app:app", "--app-dir", str(HERE),
                "--host", "127.0.0.1", "--port", "{port}"],
    "uvicorn": [sys.executable, "-m", "uvicorn", "echo_app:app", "--app-dir", str(HERE),
                "--host", "127.0.0.1", "--port", "{port}", "--ws", "websockets"],
}

# Every case of the suite: sections 1-13, compression (12, 13) included.
ALL_CASES = ["*"]
# None left out for where it connects. Every case connects to the spec's one
# server URL: the fuzzingclient opens each case's connection there
# (fuzzing.py, connectWS per case) and no case file opens a socket of its own.
# The only other addresses in the suite are the source URLs of 12.x's test
# data (gutenberg.org, rice.edu, citeseerx), which it reads from files it
# ships. 9.9.1 ("unlimited size") is not in wstest's case list at all, and
# 11.x does not exist.
EXCLUDED_CASES: list[str] = []

# The compression cases are what takes time: each of 12.x (5 payloads) and
# 13.x (7 parameter sets) echoes 1000 messages at 18 sizes, and on this
# two-core machine 12 and 13 took 8 and 11 minutes of a 19.5-minute run, all
# of 1-10 half a minute. The default run keeps, of each, the sizes up to
# 8 KiB whole (x.y.1-6) and 8 KiB in 256-byte fragments (x.y.11), plus one
# 128 KiB message of incompressible data (12.5.10: a PDF) whose compressed
# frame spans several reads; --full runs the other 131 too.
SIZES_KEPT = (1, 2, 3, 4, 5, 6, 11)
SIZES = range(1, 19)
LARGE_CASE_KEPT = "12.5.10"
LARGE_COMPRESSION_CASES = [
    case_id for section, subsections in (("12", 5), ("13", 7))
    for subsection in range(1, subsections + 1) for size in SIZES if size not in SIZES_KEPT
    if (case_id := f"{section}.{subsection}.{size}") != LARGE_CASE_KEPT]


@dataclass(frozen=True)
class Selection:
    """Which cases a run asks wstest for, and how long it may take."""

    patterns: list[str]
    excluded: list[str]
    timeout: float
    description: str


QUICK = Selection(ALL_CASES, EXCLUDED_CASES + LARGE_COMPRESSION_CASES, 600.0,
                  f"`*` without {len(LARGE_COMPRESSION_CASES)} large 12.x/13.x cases "
                  "(`--full` runs them)")
FULL = Selection(ALL_CASES, EXCLUDED_CASES, 2400.0, "`*`: every case")


def list_cases(wstest: Wstest, spec: dict) -> tuple[list[str], dict[str, str]]:
    """The case ids wstest runs for `spec` and the section titles, asked of
    the suite itself."""
    listed = subprocess.run([wstest.python27, str(HERE / "list_cases.py")], input=json.dumps(spec),
                            env=wstest.env(), capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        raise SuiteError("could not list the suite's cases: "
                         + (listed.stderr.strip().splitlines() or ["?"])[-1])
    answer = json.loads(listed.stdout)
    return answer["cases"], answer["sections"]


def run_wstest(wstest: Wstest, spec_path: Path, log: Path, timeout: float) -> str:
    """Runs the fuzzingclient to its end; returns a note when it did not get there."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(wstest.command("--mode", "fuzzingclient", "--spec", str(spec_path)),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=wstest.env(), cwd=spec_path.parent, start_new_session=True)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            started = re.findall(r"Running test case ID (\S+)", log.read_text(errors="replace"))
            last = f"; the last case it started was {started[-1]}" if started else ""
            return f"wstest did not finish within {timeout:.0f} s{last}."
    if proc.returncode != 0:
        return f"wstest exited with {proc.returncode} (see {shown(log)})."
    return ""


def suite_version(wstest: Wstest) -> str:
    version = subprocess.run(wstest.command("--autobahnversion"), env=wstest.env(),
                             capture_output=True, text=True, check=False).stdout
    found = re.search(r"AutobahnTestSuite\s+(\S+)", version)
    return found.group(1) if found else "?"


def run_suite(command: list[str], agent: str, selection: Selection = QUICK,
              reports: Path = REPORTS) -> results.Run:
    """Serves echo_app with `command`, runs the suite against it and writes the reports."""
    wstest = ensure_wstest(log=lambda line: print(line, file=sys.stderr))
    outdir = reports / "autobahn"
    shutil.rmtree(outdir, ignore_errors=True)  # a stale index.json must not count
    outdir.mkdir(parents=True)
    server = ServerProcess(command, outdir / "server.log")
    try:
        server.wait_ready()
        handshake = probe_handshake(server.port)
        spec = {"outdir": str(outdir), "cases": selection.patterns,
                "exclude-cases": selection.excluded, "exclude-agent-cases": {},
                "servers": [{"agent": agent, "url": f"ws://127.0.0.1:{server.port}"}]}
        spec_path = outdir / "fuzzingclient.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        case_ids, titles = list_cases(wstest, spec)
        started = time.monotonic()
        note = run_wstest(wstest, spec_path, outdir / "wstest.log", selection.timeout)
        wall = time.monotonic() - started
        if (code := server.exited_early()) is not None:
            note = f"{note} The server exited with {code} during the run.".strip()
    finally:
        server.stop()
    if not handshake.upgraded:
        note = f"{note} The server answered a WebSocket handshake with {handshake.status}.".strip()
    run = results.Run(agent=agent, server=" ".join(server.command), cases=results.read_cases(
                          outdir, agent, case_ids),
                      deflate_negotiated=handshake.deflate, section_titles=titles,
                      wall_seconds=wall, suite_version=suite_version(wstest),
                      selection=selection.description, note=note)
    write_reports(run, reports)
    return run


def write_reports(run: results.Run, reports: Path) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "autobahn.md").write_text(results.markdown(run))
    results.junit(run).write(reports / "autobahn.xml", encoding="unicode", xml_declaration=True)


def write_setup_failure(reason: str, reports: Path) -> None:
    """Reports that say the suite did not run, in place of an older run's."""
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "autobahn.md").write_text(f"### Autobahn|Testsuite did not run\n\n{reason}\n")
    results.setup_failure_junit(reason).write(reports / "autobahn.xml", encoding="unicode",
                                              xml_declaration=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=sorted(SERVERS), help="serve echo_app with this server")
    parser.add_argument("--agent", help="the server's name in the reports (default: --server)")
    parser.add_argument("--full", action="store_true",
                        help="every case, the large compression ones too (about 20 minutes)")
    parser.add_argument("--cases", nargs="+", metavar="PATTERN",
                        help="only these cases, e.g. '5.*' 6.1.1 (the large compression "
                        "cases only with --full)")
    parser.add_argument("--timeout", type=float,
                        help=f"seconds the whole suite may take (default: {QUICK.timeout:.0f}, "
                        f"with --full {FULL.timeout:.0f})")
    parser.add_argument("--reports", type=Path, default=REPORTS,
                        help="where the reports go (default: build/reports)")
    parser.add_argument("command", nargs="*", help="the server command after --, with {port}")
    args = parser.parse_args(argv)
    if bool(args.server) == bool(args.command):
        parser.error("give --server NAME or a command after --")
    command = SERVERS[args.server] if args.server else args.command
    agent = args.agent or args.server or Path(command[0]).name
    selection = FULL if args.full else QUICK
    if args.cases:
        selection = replace(selection, patterns=args.cases,
                            description=f"`{' '.join(args.cases)}`")
    if args.timeout:
        selection = replace(selection, timeout=args.timeout)
    try:
        run = run_suite(command, agent, selection, args.reports.resolve())
    except (SuiteError, WstestUnavailable) as error:
        write_setup_failure(str(error), args.reports.resolve())
        print(f"autobahn: {error}", file=sys.stderr)
        return 2
    # The whole list of failures is in the file; a terminal gets the start of it.
    print(results.markdown(run, most_failures=20), end="")
    print(f"(reports: {shown(args.reports.resolve() / 'autobahn.md')}, autobahn.xml, "
          "autobahn/index.html)")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
