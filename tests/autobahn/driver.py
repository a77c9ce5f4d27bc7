"""Runs the Autobahn|Testsuite fuzzingclient against a server serving echo_app.

    python3.14 tests/autobahn/driver.py --server subcorn
    python3.14 tests/autobahn/driver.py --server uvicorn
    python3.14 tests/autobahn/driver.py --agent mine -- CMD ARGS... # "{port}" in ARGS

Starts the server on a free port of 127.0.0.1, checks that it answers a
WebSocket handshake (and whether it accepts permessage-deflate), runs every
case of sections 1-13 with a time bound, and writes into build/reports/:
autobahn.md (the summary table, also printed), autobahn.xml (JUnit, one
testcase per case) and autobahn/ (wstest's own HTML and JSON reports, its
output and the server's). Exits 0 when no case failed, 1 when one did, 2 when
the suite could not run at all (the reason on one line).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import results
from wstest_env import REPO, Wstest, WstestUnavailable, ensure_wstest

sys.path.insert(0, str(REPO / "tests" / "py"))
from harness import free_port, server_env  # noqa: E402  (the integration tests' helpers)

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
CASES = ["*"]
# None left out. Every case connects to the spec's one server URL: the
# fuzzingclient opens each case's connection there (fuzzing.py, connectWS per
# case) and no case file opens a socket of its own. The only other addresses
# in the suite are the source URLs of 12.x's test data (gutenberg.org,
# rice.edu, citeseerx), which it reads from files it ships. 9.9.1 ("unlimited
# size") is not in wstest's case list at all, and 11.x does not exist.
EXCLUDED_CASES: list[str] = []

# Whole run, by default. On this machine all of it takes about SEE_README;
# the 9.x (performance) and 12.x/13.x (compression) sections take the most.
DEFAULT_TIMEOUT = 600.0
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def shown(path: Path) -> str:
    """A path as the reader finds it: relative to the work tree when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


class SuiteError(Exception):
    """The suite could not run; the message is one line."""


@dataclass
class Handshake:
    status: int
    extensions: str

    @property
    def upgraded(self) -> bool:
        return self.status == 101

    @property
    def deflate(self) -> bool:
        return self.upgraded and "permessage-deflate" in self.extensions.lower()


def probe_handshake(port: int, timeout: float = 5.0) -> Handshake:
    """One opening handshake offering permessage-deflate, as browsers do."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ")[1])
    except (IndexError, ValueError):
        raise SuiteError(f"the server's answer to a WebSocket handshake is not HTTP: {head[:80]!r}")
    extensions = ", ".join(value.strip() for name, _, value in
                           (line.partition(":") for line in lines[1:])
                           if name.strip().lower() == "sec-websocket-extensions")
    return Handshake(status, extensions)


class ServerProcess:
    """The server under test, in its own session so that stopping it stops
    its workers too. Output goes to a file."""

    def __init__(self, command: list[str], log: Path):
        self.port = free_port()
        self.command = [arg.replace("{port}", str(self.port)) for arg in command]
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=server_env(), cwd=REPO,
                                         start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SuiteError(f"the server exited with {self.proc.returncode} before "
                                 f"it listened (see {shown(self.log)})")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SuiteError(f"the server did not listen on port {self.port} within {START_TIMEOUT:.0f} s")

    def exited_early(self) -> int | None:
        """The exit code if the server ended on its own during the run."""
        return self.proc.poll()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


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


def run_suite(command: list[str], agent: str, timeout: float = DEFAULT_TIMEOUT,
              cases: list[str] | None = None, reports: Path = REPORTS) -> results.Run:
    """Serves echo_app with `command`, runs the suite against it and writes the reports."""
    wstest = ensure_wstest(log=lambda line: print(line, file=sys.stderr))
    outdir = reports / "autobahn"
    shutil.rmtree(outdir, ignore_errors=True)  # a stale index.json must not count
    outdir.mkdir(parents=True)
    server = ServerProcess(command, outdir / "server.log")
    try:
        server.wait_ready()
        handshake = probe_handshake(server.port)
        spec = {"outdir": str(outdir), "cases": cases or CASES, "exclude-cases": EXCLUDED_CASES,
                "exclude-agent-cases": {},
                "servers": [{"agent": agent, "url": f"ws://127.0.0.1:{server.port}"}]}
        spec_path = outdir / "fuzzingclient.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        case_ids, titles = list_cases(wstest, spec)
        started = time.monotonic()
        note = run_wstest(wstest, spec_path, outdir / "wstest.log", timeout)
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
                      wall_seconds=wall, suite_version=suite_version(wstest), note=note)
    write_reports(run, reports)
    return run


def write_reports(run: results.Run, reports: Path) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "autobahn.md").write_text(results.markdown(run))
    results.junit(run).write(reports / "autobahn.xml", encoding="unicode", xml_declaration=True)


def write_setup_failure(reason: str, reports: Path) -> None:
    """A JUnit report with one failed testcase, so the closing count shows the
    stage failed even though no case ran."""
    import xml.etree.ElementTree as ET
    reports.mkdir(parents=True, exist_ok=True)
    suite = ET.Element("testsuite", name="autobahn", tests="1", failures="1", errors="0")
    case = ET.SubElement(suite, "testcase", classname="autobahn", name="setup")
    ET.SubElement(case, "failure", message=reason)
    ET.ElementTree(suite).write(reports / "autobahn.xml", encoding="unicode", xml_declaration=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=sorted(SERVERS), help="serve echo_app with this server")
    parser.add_argument("--agent", help="the server's name in the reports (default: --server)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds the whole suite may take (default: {DEFAULT_TIMEOUT:.0f})")
    parser.add_argument("--cases", nargs="+", help="case patterns, e.g. 1.* 5.* (default: all)")
    parser.add_argument("--reports", type=Path, default=REPORTS,
                        help="where the reports go (default: build/reports)")
    parser.add_argument("command", nargs="*", help="the server command after --, with {port}")
    args = parser.parse_args(argv)
    if bool(args.server) == bool(args.command):
        parser.error("give --server NAME or a command after --")
    command = SERVERS[args.server] if args.server else args.command
    agent = args.agent or args.server or Path(command[0]).name
    try:
        run = run_suite(command, agent, args.timeout, args.cases, args.reports.resolve())
    except (SuiteError, WstestUnavailable) as error:
        write_setup_failure(str(error), args.reports.resolve())
        print(f"autobahn: {error}", file=sys.stderr)
        return 2
    print(results.markdown(run), end="")
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(main())
