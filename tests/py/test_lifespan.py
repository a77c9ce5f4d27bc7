"""Lifespan: startup state, shutdown, failures and the --lifespan modes."""

import time

import httpx
import pytest

from harness import (CLEAN_EXITS, START_TIMEOUT, STARTUP_FAILURE_EXIT, TRACEBACK, IncompleteResponse,
                     RawConn, answers_from_workers, run_failing)

UNSUPPORTED = "ASGI 'lifespan' protocol appears unsupported."


def test_startup_state_is_per_worker_and_visible_in_requests(server):
    s = server("whoami:app", workers=2)
    for _ in range(20):
        got = s.get_json("/")
        # Startup stored the identity of the worker it ran in; a request sees
        # the state of the worker that serves it.
        assert got["state_x"] == got["worker"], got


@pytest.mark.subcorn_only
def test_startup_ran_in_every_shard(server):
    # Needs requests to reach all 3 workers; uvicorn's processes share one
    # socket and leave the spread to the kernel.
    s = server("whoami:app", workers=3)
    seen = {a["interpreter_id"]: a["state_x"] for a in answers_from_workers(s, 3)}
    assert len(seen) == 3, seen
    assert all(x and x.endswith(f":{i}") for i, x in seen.items()), seen


def test_shutdown_runs_in_every_worker(server, tmp_path):
    marker = tmp_path / "shutdown.txt"
    s = server("whoami:app", workers=2, env={"TESTAPP_SHUTDOWN_FILE": str(marker)})
    assert s.get_json("/")["state_x"]
    assert not marker.exists()
    assert s.stop() in CLEAN_EXITS
    lines = marker.read_text().split()
    assert len(lines) == 2 and len(set(lines)) == 2, lines


def test_startup_failed_message_exits():
    from_app = "custom-startup-failure-xyzzy"
    done = run_failing("lifespan_app:failing_startup")
    assert done.returncode == STARTUP_FAILURE_EXIT, done.stderr
    assert from_app in done.stderr


def test_startup_exception_with_lifespan_on_exits():
    done = run_failing("lifespan_app:raising_startup", "--lifespan", "on")
    assert done.returncode == STARTUP_FAILURE_EXIT, done.stderr
    assert "startup-exploded-plugh" in done.stderr


def test_lifespan_off_never_calls_app_with_lifespan(server, tmp_path):
    scopes = tmp_path / "scopes.txt"
    s = server("lifespan_app:recorder", "--lifespan", "off", env={"TESTAPP_SCOPES_FILE": str(scopes)})
    assert httpx.get(s.url + "/").text == "recorded"
    assert s.stop() in CLEAN_EXITS
    assert scopes.read_text().split() == ["http"]


def test_lifespan_on_calls_app_with_lifespan(server, tmp_path):
    scopes = tmp_path / "scopes.txt"
    s = server("lifespan_app:recorder", "--lifespan", "on", env={"TESTAPP_SCOPES_FILE": str(scopes)})
    assert httpx.get(s.url + "/").text == "recorded"
    assert s.stop() in CLEAN_EXITS
    assert scopes.read_text().split() == ["lifespan", "http"]


def test_lifespan_auto_serves_app_that_rejects_lifespan(server):
    # It raises before receiving anything: it does not support lifespan.
    s = server("lifespan_app:no_lifespan", "--lifespan", "auto")
    r = httpx.get(s.url + "/")
    assert (r.status_code, r.text) == (200, "served without lifespan")
    assert TRACEBACK not in s.output
    assert f"INFO:     {UNSUPPORTED}" in s.output


@pytest.mark.subcorn_only  # uvicorn takes any exception in auto mode for "unsupported"
def test_lifespan_auto_exits_when_startup_raises_after_receiving(server):
    # It received lifespan.startup, then raised: its startup failed.
    s = server("lifespan_app:raising_startup", "--lifespan", "auto", workers=2, wait=False)
    deadline = time.monotonic() + START_TIMEOUT
    while s.proc.poll() is None:
        assert time.monotonic() < deadline, f"still running\n{s.describe()}"
        try:
            with RawConn(s.port, timeout=0.5) as c:
                c.request("GET", "/", headers=[("Connection", "close")])
                r = c.read_response(timeout=0.5)
        except (OSError, TimeoutError, IncompleteResponse):
            time.sleep(0.1)
            continue
        pytest.fail(f"served {r.status} {r.body!r} although its startup raised\n{s.describe()}")
    assert s.wait(timeout=5) == STARTUP_FAILURE_EXIT, s.describe()
    assert TRACEBACK in s.stderr and "startup-exploded-plugh" in s.stderr, s.stderr
    assert UNSUPPORTED not in s.output
