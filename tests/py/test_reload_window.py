"""Reload without the window (issue 12, item 4): once the supervisor has
announced a new generation ("Reload complete"), no request reaches the old
code. New connections go to the new generation only; a kept-alive connection
of the old one finishes the request it has in flight and is then closed (an
idle one is closed at once, so the client sends its next request on a new
connection, as HTTP clients do: RFC 9112 section 9.3.1). docs/supervisor.md."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

from test_supervisor import APP, Load, assert_no_failures, wait_for, wait_started

pytestmark = pytest.mark.subcorn_only

RELOADS = 20


class Announcements:
    """Watches the server's log and notes, on the same clock as the clients
    (CLOCK_MONOTONIC is one clock for every process), when each "Reload
    complete" line was first seen: at or after the supervisor wrote it."""

    def __init__(self, server) -> None:
        self.server = server
        self.seen: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Announcements:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            n = len(re.findall(r"Reload complete", self.server.stderr))
            now = time.monotonic()
            self.seen += [now] * (n - len(self.seen))
            time.sleep(0.002)


def late_answers(loads: list[Load], announced: dict[str, float]) -> list[str]:
    """Answers the old code gave to requests sent after the generation that
    replaced it was announced. `announced` maps a generation's value to when
    the next one was seen announced."""
    late = []
    for load in loads:
        for o in load.outcomes:
            if o.answer is None:
                continue
            replaced_at = announced.get(o.answer["value"])
            if replaced_at is not None and o.started >= replaced_at:
                late.append(f"{o.answer['value']} (pid {o.answer['pid']}) answered a request sent "
                            f"{o.started - replaced_at:.3f} s after its successor was announced "
                            f"({'new' if o.new_connection else 'reused'} connection)")
    return late


@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_no_request_reaches_the_old_code_after_a_reload(server, tmp_path, mode):
    value = tmp_path / "value"
    value.write_text("gen-0")
    s = server(APP, "--mode", mode, "--no-access-log", workers=2,
               env={"TESTAPP_VALUE_FILE": str(value)})
    wait_started(s, processes=2 if mode == "processes" else 1)
    announced: dict[str, float] = {}
    loads = [Load(s.port, retry_stale=True) for _ in range(3)]
    with Announcements(s) as news:
        for load in loads:
            load.__enter__()
        try:
            wait_for(lambda: all(load.ok_count() > 10 for load in loads), 10, "load is served")
            for k in range(1, RELOADS + 1):
                value.write_text(f"gen-{k}")
                os.kill(s.pid, signal.SIGHUP)
                wait_for(lambda: len(news.seen) >= k, 30,
                         f"reload {k} completes\n{s.describe()}", interval=0.01)
                announced[f"gen-{k - 1}"] = news.seen[k - 1]
                # Some load on the new generation before the next reload.
                counts = [load.ok_count() for load in loads]
                wait_for(lambda: all(load.ok_count() > c + 5 for load, c in zip(loads, counts)),
                         10, f"load is served after reload {k}")
        finally:
            for load in loads:
                load.stop()
    for load in loads:
        assert_no_failures(load, s)
    late = late_answers(loads, announced)
    assert not late, f"{len(late)} late answers from replaced code: {late[:5]}\n{s.describe()}"
    # The load spanned every generation, and the last one serves.
    values = {o.answer["value"] for load in loads for o in load.outcomes if o.answer}
    assert f"gen-{RELOADS}" in values and len(values) >= RELOADS // 2, sorted(values)
    assert len(re.findall(r"Reload complete", s.stderr)) == RELOADS
    assert "did not say they stopped accepting" not in s.stderr
