"""The supervisor: the server process owns the socket and runs the app in
worker processes it restarts, recycles, reloads and stops
(docs/supervisor.md). subcorn only: uvicorn's process tree differs."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
import tomllib
from dataclasses import dataclass, field
from typing import Self

import pytest

from harness import IncompleteResponse, RawConn, Response, run_cli, run_failing

pytestmark = pytest.mark.subcorn_only

APP = "supervised_app:app"


# ---------------------------------------------------------------- helpers

def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(interval)


def gone(pid: int) -> bool:
    """The process has exited (a zombie counts: it serves nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def reaped(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("PPid:")).split()[1])


def get(s, path: str = "/") -> dict:
    return s.get_json(path)


def new_worker(s, old_pid: int, timeout: float = 15) -> dict:
    """The first answer from a worker other than `old_pid`."""
    return wait_for(lambda: (a := _try_get(s)) and a["pid"] != old_pid and a, timeout,
                    f"a worker other than {old_pid} answers\n{s.describe()}")


def _try_get(s) -> dict | None:
    try:
        return get(s)
    except (OSError, TimeoutError, AssertionError):
        return None


@dataclass
class Outcome:
    opened: float   # when the request's connection was opened
    started: float
    ended: float
    fresh: bool     # a new connection for this request alone
    answer: dict | None
    error: str = ""

    @property
    def new_connection(self) -> bool:
        return self.fresh or self.opened == self.started

    def __str__(self) -> str:
        return f"{self.error} ({'new' if self.new_connection else 'reused'} connection)"


@dataclass
class Load:
    """A client thread that keeps sending GETs in turn over a new connection
    and over a kept-alive one, recording every outcome.

    `retry_stale`: a request on a reused keep-alive connection that the
    server had closed (no byte of response came back) is sent again on a new
    connection, as HTTP clients do (RFC 9112 section 9.3.1: a server may close
    an idle connection at any time, and a client may retry an idempotent
    request that got no response). Without it, that counts as a failure."""

    port: int
    retry_stale: bool = False
    path: str = "/"
    outcomes: list[Outcome] = field(default_factory=list)
    retries: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._kept: RawConn | None = None
        self._kept_opened = 0.0
        self._kept_used = False

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> list[Outcome]:
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the load thread is stuck"
        return self.outcomes

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.answer is None]

    def ok_count(self) -> int:
        return sum(o.answer is not None for o in self.outcomes)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.outcomes.append(self._fresh())
            self.outcomes.append(self._keep_alive())
        if self._kept:
            self._kept.close()

    def _fresh(self) -> Outcome:
        opened = time.monotonic()
        try:
            with RawConn(self.port, timeout=10) as c:
                c.request("GET", self.path, headers=[("Connection", "close")])
                return self._outcome(opened, opened, True, c.read_response(timeout=10))
        except Exception as exc:  # noqa: BLE001 - recorded
            return Outcome(opened, opened, time.monotonic(), True, None, repr(exc))

    def _keep_alive(self) -> Outcome:
        started = time.monotonic()
        if self._kept is None:
            try:
                self._kept = RawConn(self.port, timeout=10)
            except OSError as exc:
                return Outcome(started, started, time.monotonic(), False, None, repr(exc))
            self._kept_opened, self._kept_used = started, False
        opened, reused = self._kept_opened, self._kept_used
        try:
            self._kept.request("GET", self.path)
            r = self._kept.read_response(timeout=10)
        except Exception as exc:  # noqa: BLE001 - recorded or retried
            self._drop_kept()
            if reused and _closed_unanswered(exc) and self.retry_stale and not self._stop.is_set():
                self.retries += 1
                return self._fresh()
            return Outcome(opened, started, time.monotonic(), False, None, repr(exc))
        self._kept_used = True
        if (r.header("connection") or "").lower() == "close":
            self._drop_kept()
        return self._outcome(opened, started, False, r)

    def _drop_kept(self) -> None:
        if self._kept:
            self._kept.close()
        self._kept = None

    @staticmethod
    def _outcome(opened: float, started: float, fresh: bool, r: Response) -> Outcome:
        if r.status != 200:
            return Outcome(opened, started, time.monotonic(), fresh, None, f"status {r.status}")
        return Outcome(opened, started, time.monotonic(), fresh, json.loads(r.body))


def _closed_unanswered(exc: Exception) -> bool:
    """The server closed the connection before any byte of a response."""
    if isinstance(exc, IncompleteResponse):
        return exc.raw == b""
    return isinstance(exc, ConnectionError)


def assert_no_failures(load: Load, server) -> None:
    failed = load.failures
    assert not failed, f"{len(failed)} of {len(load.outcomes)} requests failed: " \
                       f"{[str(o) for o in failed[:5]]}\n{server.describe()}"


def log_lines(s, pattern: str) -> list[re.Match]:
    return [m for line in s.stderr.splitlines() if (m := re.search(pattern, line))]


def wait_started(s, processes: int = 1) -> None:
    """Waits until every shard of the first worker process(es) serves: a
    worker serves as soon as its first shard does, but until all have, it is
    still starting (and a death then stops the server)."""
    wait_for(lambda: len(log_lines(s, r"Application startup complete")) >= processes, 15,
             f"the workers started\n{s.describe()}")


def started_workers(s) -> list[int]:
    return [int(m[1]) for m in log_lines(s, r"Started worker process \[(\d+)\]")]


# ---------------------------------------------------------------- the tree

def test_app_runs_in_a_child_of_the_server_process(server):
    s = server(APP, workers=2)
    answers = [get(s) for _ in range(10)]
    assert {a["pid"] for a in answers} == {answers[0]["pid"]}, "one worker process"
    assert answers[0]["pid"] != s.pid
    assert answers[0]["ppid"] == s.pid
    assert started_workers(s) == [answers[0]["pid"]]


def test_processes_mode_runs_one_child_per_worker(server):
    s = server(APP, "--mode", "processes", workers=2)
    pids = wait_for(lambda: (p := {get(s)["pid"] for _ in range(20)}) and len(p) == 2 and p,
                    10, "two worker processes answer")
    assert s.pid not in pids
    assert {parent_of(pid) for pid in pids} == {s.pid}
    assert "processes mode" in s.stderr


def test_worker_gets_the_supervisors_settings(server):
    """The worker process is handed the supervisor's settings as they are
    (its Config as JSON in its environment), never rebuilt into a command
    line: every one is the same as `--print-config` shows for the same
    flags, but where it listens and what only the supervisor does."""
    flags = ["--root-path", "/api", "--no-access-log", "--limit-concurrency", "7",
             "--timeout-keep-alive", "9", "--lifespan", "off", "--threads", "2",
             "--max-requests", "1000", "--workers-max-rss", "4096"]
    s = server(APP, *flags, workers=3)
    pid = get(s, "/api/")["pid"]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    assert argv[1:] == ["-m", "subcorn._supervisor_child"], argv
    # /proc shows the environment the process started with (the worker took
    # the variable out of os.environ before the app was imported).
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = dict(item.decode().split("=", 1) for item in f.read().split(b"\0") if item)
    handed = json.loads(environ["SUBCORN_WORKER_CONFIG"])
    printed = tomllib.loads(run_cli([*s.args, "--print-config"]).stdout)
    decided = {"workers": 3, "mode": "interpreters", "workers_max_rss": None, "pid": None,
               "uds": None, "fd": None, "bind": []}
    assert len(handed["listen_fds"]) == 1, "the socket is inherited"
    for name, value in printed.items():
        if name not in decided:
            assert handed[name] == value, (name, handed[name], value)
    for name, value in decided.items():
        assert handed[name] == value, (name, handed[name])
    assert handed["supervised"] and handed["ready_fd"] is not None
    assert handed["root_path"] == "/api" and handed["timeout_keep_alive"] == 9.0
    assert handed["access_log"] is False and handed["limit_concurrency"] == 7


# ---------------------------------------------------------------- deaths

def test_killed_worker_is_replaced_and_only_requests_in_flight_fail(server):
    s = server(APP, workers=2)
    wait_started(s)
    old = get(s)["pid"]
    with Load(s.port) as load:
        wait_for(lambda: load.ok_count() > 20, 10, "load is served")
        t_kill = time.monotonic()
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: gone(old), 5, "the killed worker is gone")
        t_dead = time.monotonic()
        wait_for(lambda: any(o.answer and o.answer["pid"] != old for o in load.outcomes), 10,
                 "a new worker answers the load")
        n = len(load.outcomes)
        wait_for(lambda: len(load.outcomes) > n + 40, 10, "more load is served")
    after = [o for o in load.outcomes if o.opened >= t_dead]
    bad = [o for o in after if o.answer is None]
    assert not bad, f"requests made after the worker died failed: {[o.error for o in bad][:5]}"
    # What may fail: only requests whose connection was open at the kill.
    assert all(o.opened < t_dead for o in load.failures)
    assert len(load.failures) <= 3, [o.error for o in load.failures]
    served_after = [o.ended for o in after if o.answer is not None]
    assert min(served_after) - t_kill < 5, "outage too long"
    new = {o.answer["pid"] for o in after}
    assert old not in new and len(new) == 1 and parent_of(new.pop()) == s.pid
    assert log_lines(s, rf"Worker process \[{old}\] killed by SIGKILL")


@pytest.mark.parametrize("path, how", [("/exit?code=3", "exited with code 3"),
                                       ("/abort", "killed by SIGABRT")])
def test_worker_that_ends_itself_is_replaced(server, path, how):
    s = server(APP)
    old = get(s)["pid"]
    with RawConn(s.port) as c:
        c.request("GET", path)
        assert c.read_until_close(timeout=10) == b""
    new_worker(s, old)
    assert log_lines(s, rf"Worker process \[{old}\] {how}"), s.describe()
    assert all(get(s)["pid"] != old for _ in range(5))


def test_sigterm_to_the_worker_alone_is_a_crash(server):
    s = server(APP)
    old = get(s)["pid"]
    os.kill(old, signal.SIGTERM)
    assert new_worker(s, old)["ppid"] == s.pid
    assert log_lines(s, rf"Worker process \[{old}\] exited with code 0 \(it was not asked to stop\)")


def test_worker_that_cannot_start_stops_the_server():
    t0 = time.monotonic()
    done = run_failing("supervised_broken:app")
    assert done.returncode == 1, done.stderr
    assert "supervised-broken-at-import-plugh" in done.stderr
    assert len(re.findall(r"Started worker process", done.stderr)) == 1, done.stderr
    assert time.monotonic() - t0 < 15


def test_crash_loop_backs_off(server, tmp_path):
    crashes = 5
    env = {"TESTAPP_CRASH_FILE": str(tmp_path / "starts"), "TESTAPP_CRASHES": str(crashes)}
    t0 = time.monotonic()
    s = server("supervised_flaky:app", env=env)
    wait_for(lambda: len(started_workers(s)) == crashes + 1, 20,
             f"{crashes + 1} workers started\n{s.describe()}", interval=0.1)
    delays = [float(m[1]) for m in log_lines(s, r"starting a new one in ([\d.]+) s")]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6], s.stderr
    assert time.monotonic() - t0 > sum(delays)  # the waits happened
    with RawConn(s.port) as c:  # the last one stays up and serves
        c.request("GET", "/")
        assert c.read_response(timeout=10).body == b"steady"


# ---------------------------------------------------------------- reload and recycling

def test_sighup_reloads_new_code_without_failing_a_request(server, tmp_path):
    value = tmp_path / "value"
    value.write_text("one")
    s = server(APP, workers=2, env={"TESTAPP_VALUE_FILE": str(value)})
    wait_started(s)
    old = get(s)["pid"]
    with Load(s.port, retry_stale=True) as load:
        wait_for(lambda: load.ok_count() > 20, 10, "load is served")
        value.write_text("two")
        os.kill(s.pid, signal.SIGHUP)
        wait_for(lambda: any(o.answer and o.answer["value"] == "two" for o in load.outcomes), 15,
                 f"the new code answers\n{s.describe()}")
        n = len(load.outcomes)
        wait_for(lambda: len(load.outcomes) > n + 40, 10, "more load is served")
    assert_no_failures(load, s)
    assert {get(s)["value"] for _ in range(10)} == {"two"}
    wait_for(lambda: reaped(old), 10, "the old worker exits")
    assert log_lines(s, r"Reload complete")


def test_failed_reload_keeps_the_old_workers(server, tmp_path):
    value = tmp_path / "value"
    value.write_text("one")
    s = server(APP, env={"TESTAPP_VALUE_FILE": str(value)})
    old = get(s)["pid"]
    value.write_text("fail")
    os.kill(s.pid, signal.SIGHUP)
    wait_for(lambda: log_lines(s, r"Reload failed"), 15, f"the reload fails\n{s.describe()}")
    answers = [get(s) for _ in range(5)]
    assert {(a["pid"], a["value"]) for a in answers} == {(old, "one")}


def test_max_requests_recycles_worker_processes_under_load(server):
    s = server(APP, "--mode", "processes", "--max-requests", "50", "--max-requests-jitter", "10",
               workers=2)
    with Load(s.port, retry_stale=True) as load:
        wait_for(lambda: len({o.answer["pid"] for o in load.outcomes if o.answer}) >= 4, 30,
                 f"workers are recycled\n{s.describe()}", interval=0.1)
    assert_no_failures(load, s)
    assert log_lines(s, r"served its --max-requests: replacing it")


def test_max_requests_recycles_interpreters_in_place_under_load(server):
    # In interpreters mode a shard's interpreter is replaced by a fresh one in
    # the same process: the pid stays, the interpreter ids move on.
    s = server(APP, "--mode", "interpreters", "--max-requests", "50",
               "--max-requests-jitter", "10", workers=2)
    with Load(s.port, retry_stale=True) as load:
        wait_for(lambda: len({o.answer["worker"] for o in load.outcomes if o.answer}) >= 5, 30,
                 f"interpreters are recycled\n{s.describe()}", interval=0.1)
    assert_no_failures(load, s)
    assert len({o.answer["pid"] for o in load.outcomes if o.answer}) == 1
    assert log_lines(s, r"served its --max-requests: starting a fresh one")
    assert not log_lines(s, r"left threads running")


def test_workers_max_rss_recycles_a_growing_worker(server):
    s = server(APP, "--workers-max-rss", "150")
    old = get(s)["pid"]
    deadline = time.monotonic() + 30
    pid = old
    while pid == old:
        assert time.monotonic() < deadline, s.describe()
        pid = get(s, "/alloc?mb=20")["pid"]
    assert log_lines(s, rf"Worker process \[{old}\] uses \d+ MB of memory, above "
                        r"--workers-max-rss 150 MB")
    wait_for(lambda: reaped(old), 10, "the old worker exits")


# ---------------------------------------------------------------- stopping

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_stops_every_worker(server, sig):
    s = server(APP, "--mode", "processes", workers=2)
    pids = wait_for(lambda: (p := {get(s)["pid"] for _ in range(20)}) and len(p) == 2 and p,
                    10, "two worker processes answer")
    s.proc.send_signal(sig)
    assert s.wait(timeout=15) == 0, s.describe()
    assert all(reaped(pid) for pid in pids), "a worker outlived the server"


def test_second_sigint_kills_the_workers(server):
    s = server(APP)
    pid = get(s)["pid"]
    with RawConn(s.port) as c:
        c.request("GET", "/sleep?s=30")
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert s.proc.poll() is None, "the first SIGINT waits for the request in flight"
        s.proc.send_signal(signal.SIGINT)
        assert s.wait(timeout=5) == 1, s.describe()
    assert reaped(pid)


def test_worker_follows_a_killed_server(server):
    s = server(APP)
    pid = get(s)["pid"]
    s.proc.kill()  # the supervisor alone, with no chance to stop its workers
    s.wait(timeout=5)
    wait_for(lambda: gone(pid), 10, "the worker exits after its supervisor died")


def test_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run_failing(APP, port=port)
    assert done.returncode == 1
    assert f"could not bind to 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Started worker process" not in done.stderr


def test_free_port_zero_is_logged(server):
    s = server(APP, "--host", "127.0.0.1", "--port", "0", address=False, wait=False)
    m = wait_for(lambda: log_lines(s, r"on http://127\.0\.0\.1:(\d+)"), 10, "the address logged")
    assert int(m[0][1]) != 0
    s.port = int(m[0][1])
    s.wait_ready()
    assert get(s)["ppid"] == s.pid
