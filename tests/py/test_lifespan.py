"""Lifespan: startup state, shutdown, failures and the --lifespan modes."""

import httpx
import pytest

from harness import CLEAN_EXITS, STARTUP_FAILURE_EXIT, TRACEBACK, answers_from_workers, run_failing


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
    s = server("lifespan_app:no_lifespan", "--lifespan", "auto")
    r = httpx.get(s.url + "/")
    assert (r.status_code, r.text) == (200, "served without lifespan")
    assert TRACEBACK not in s.output
