"""Fixtures: the `server` factory, and the `subcorn_only` marker's rule."""

from __future__ import annotations

import pytest

from harness import (APPS, CLEAN_EXITS, IS_HYPERCORN, IS_PEER, IS_UVICORN, STOP_TIMEOUT, UVICORN_WS,
                     AppEvents, Server, free_port, hypercorn_args)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "subcorn_only: behaviour only subcorn promises; "
        "skipped only when SUBCORN_TEST_SERVER=uvicorn or hypercorn")


def pytest_collection_modifyitems(config, items):
    # Under subcorn (the default) nothing is skipped: a subcorn_only test must
    # run and pass there. Only the uvicorn and hypercorn check runs leave them out.
    if not IS_PEER:
        return
    skip = pytest.mark.skip(reason="subcorn_only: not a peer server's behaviour")
    for item in items:
        if item.get_closest_marker("subcorn_only"):
            item.add_marker(skip)


@pytest.fixture
def server(tmp_path):
    """Factory: server("module:attr", *flags, workers=1, env={...}) starts the
    server under test, waits until it accepts connections and returns a Server
    (.port, .url, .proc, .stderr, .output, .stop()).

    address=False leaves out --host/--port/--workers (a test that gives them
    another way); uds=PATH serves on a unix socket; fd=N passes an inherited
    listening socket (give its port too). At teardown every server still running
    gets SIGTERM and, after STOP_TIMEOUT, SIGKILL; not exiting on SIGTERM or
    dying of a signal fails the test. The logs are printed (shown on failure)."""
    started: list[Server] = []

    def start(app, *flags, workers=1, env=None, port=None, uds=None, fd=None,
              address=True, wait=True) -> Server:
        logdir = tmp_path / f"server{len(started)}"
        if IS_HYPERCORN:
            if uds or fd is not None or not address:
                raise ValueError("the hypercorn check run serves on --host/--port only")
            port = port or free_port()
            s = Server(hypercorn_args(app, [str(f) for f in flags], port=port, workers=workers,
                                      logdir=logdir), logdir, env=dict(env or {}), port=port)
            started.append(s)
            s.start()
            return s.wait_ready() if wait else s
        args = [app, "--app-dir", str(APPS)]
        if address:
            if uds:
                args += ["--uds", uds]
            elif fd is not None:
                args += ["--fd", str(fd)]
            else:
                port = port or free_port()
                args += ["--host", "127.0.0.1", "--port", str(port)]
            args += ["--workers", str(workers)]
        if IS_UVICORN:
            # A test's own --ws, given after this one, wins.
            args += ["--http", "httptools", "--ws", UVICORN_WS]
        args += [str(f) for f in flags]
        s = Server(args, logdir, env=dict(env or {}), port=port,
                   uds=uds, pass_fds=(fd,) if fd is not None else ())
        started.append(s)
        s.start()
        if wait:
            s.wait_ready()
        return s

    yield start

    problems = []
    for s in started:
        observed = s.returncode is not None
        if s.proc.poll() is None:
            if s.stop() is None:
                problems.append(f"did not exit within {STOP_TIMEOUT}s of SIGTERM (killed)")
            elif s.returncode not in CLEAN_EXITS:
                problems.append(f"exited with {s.returncode} after SIGTERM")
        elif not observed and s.proc.returncode < 0:
            problems.append(f"died of signal {-s.proc.returncode} during the test")
        print(s.describe())
    if problems:
        pytest.fail("server: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def events(tmp_path) -> AppEvents:
    """Where a fixture app records what it observed: start the server with
    env=events.env, then events.wait_for("disconnect", code=...)."""
    return AppEvents(tmp_path / "app-events.jsonl")
