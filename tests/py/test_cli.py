"""The command line: flags, SUBCORN_* environment variables, addresses,
startup errors and the logs."""

import re
import socket
import threading
import time

import httpx
import pytest

from harness import (ENV_PREFIX, SERVER_KIND, STARTUP_FAILURE_EXIT, TRACEBACK, answers_from_workers,
                     free_port, run_cli, run_failing)

FLAGS = ["--factory", "--host", "--port", "--uds", "--fd", "--workers", "--app-dir", "--lifespan",
         "--root-path", "--timeout-keep-alive", "--timeout-graceful-shutdown",
         "--limit-concurrency", "--backlog", "--log-level", "--access-log", "--no-access-log",
         "--version", "--help"]


def wait_for_output(server, text: str, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while text not in server.output:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_version():
    done = run_cli(["--version"])
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert SERVER_KIND in out.lower()
    assert re.search(r"\d+\.\d+", out), out


def test_help_lists_the_flags():
    done = run_cli(["--help"])
    assert done.returncode == 0, done.stderr
    missing = [f for f in FLAGS if f not in done.stdout]
    assert not missing, f"--help does not mention {missing}"


def test_port_and_host_from_environment(server):
    port = free_port()
    s = server("hello:app", address=False, port=port,
               env={ENV_PREFIX + "PORT": str(port), ENV_PREFIX + "HOST": "127.0.0.1"})
    assert httpx.get(s.url).text == "hello"


@pytest.mark.subcorn_only
def test_workers_from_environment(server):
    # Counted as distinct interpreters, which only subcorn has.
    port = free_port()
    s = server("whoami:app", "--host", "127.0.0.1", "--port", str(port), address=False, port=port,
               env={ENV_PREFIX + "WORKERS": "3"})
    ids = {a["interpreter_id"] for a in answers_from_workers(s, 3)}
    assert len(ids) == 3, ids


def test_unix_socket(server, tmp_path):
    path = str(tmp_path / "s.sock")
    server("hello:app", uds=path)
    with httpx.Client(transport=httpx.HTTPTransport(uds=path)) as client:
        assert client.get("http://localhost/").text == "hello"


@pytest.mark.subcorn_only  # gunicorn's flag; uvicorn has none
def test_pid_file_is_written_once_bound_and_removed_on_exit(server, tmp_path):
    pid_file = tmp_path / "subcorn.pid"
    s = server("hello:app", "--pid", str(pid_file))
    assert httpx.get(s.url).text == "hello"
    assert pid_file.read_text() == f"{s.pid}\n"
    s.terminate()
    assert s.wait(20) == 0, s.describe()
    assert not pid_file.exists()


@pytest.mark.subcorn_only
def test_pid_file_that_cannot_be_written_is_one_line_and_exit_1(tmp_path):
    done = run_failing("hello:app", "--pid", str(tmp_path / "no-such-dir" / "subcorn.pid"))
    assert_one_readable_error(done, "pid file", "no-such-dir")


def test_inherited_listening_socket(server):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        s = server("hello:app", fd=sock.fileno(), port=port)
        for _ in range(3):
            assert httpx.get(s.url, headers={"Connection": "close"}).text == "hello"


def test_factory(server):
    s = server("factory:create_app", "--factory")
    assert httpx.get(s.url).text == "made-by-factory"


@pytest.mark.parametrize("flags", [["--backlog", "16"], ["--log-level", "warning"],
                                   ["--log-level", "debug"], ["--access-log"]])
def test_other_flags_accepted(server, flags):
    s = server("hello:app", *flags)
    assert httpx.get(s.url).text == "hello"


@pytest.mark.subcorn_only
def test_limit_concurrency(server):
    # uvicorn counts the connection itself against the limit, so with
    # --limit-concurrency 1 it answers every request 503.
    s = server("paths:app", "--limit-concurrency", "1")
    statuses = []

    def slow():
        statuses.append(httpx.get(s.url + "/slow?sleep=1.5", timeout=10).status_code)

    first = threading.Thread(target=slow)
    first.start()
    time.sleep(0.5)
    second = httpx.get(s.url + "/slow?sleep=1.5", timeout=10).status_code
    first.join(10)
    assert statuses == [200]
    assert second == 503


def test_startup_log_mentions_the_address(server):
    s = server("hello:app")
    assert wait_for_output(s, f"127.0.0.1:{s.port}"), s.describe()


@pytest.mark.subcorn_only
def test_startup_log_mentions_worker_count_and_mode(server):
    # uvicorn logs neither how many workers it runs nor a worker mode.
    s = server("hello:app", workers=3)
    deadline = time.monotonic() + 5
    while not any(re.search(r"\b3\b", line) for line in s.stderr.splitlines() if "worker" in line.lower()):
        assert time.monotonic() < deadline, s.describe()
        time.sleep(0.05)
    assert "interpreters" in s.stderr


def test_access_log(server):
    s = server("hello:app")
    httpx.get(s.url + "/access-probe-5150")
    assert wait_for_output(s, "/access-probe-5150"), s.describe()


def test_no_access_log(server):
    s = server("hello:app", "--no-access-log")
    assert httpx.get(s.url + "/access-probe-5151").status_code == 200
    s.stop()
    assert "/access-probe-5151" not in s.output


def assert_one_readable_error(done, *mentions):
    err = done.stderr
    assert done.returncode == STARTUP_FAILURE_EXIT, err
    assert TRACEBACK not in err, err
    lines = [line for line in err.splitlines() if all(m in line for m in mentions)]
    assert lines, f"no stderr line mentions {mentions}: {err}"
    assert len(lines[0]) < 300, lines[0]


@pytest.mark.parametrize("target, mention", [
    ("nosuchmodule:app", "nosuchmodule"),
    ("hello:missing_attr", "missing_attr"),
    ("bad-import-string-no-colon", "bad-import-string-no-colon"),
])
def test_bad_import_string(target, mention):
    assert_one_readable_error(run_failing(target), mention)


def test_port_in_use():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run_failing("hello:app", port=port)
    assert_one_readable_error(done, str(port))
