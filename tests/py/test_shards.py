"""Workers are own-GIL sub-interpreters of one process, and the server spreads
connections over them (apps/whoami.py). subcorn only: uvicorn's workers are
processes, each in its main interpreter (id 0)."""

import json
import time
from collections import Counter

import pytest

from harness import RawConn, answers_from_workers

pytestmark = pytest.mark.subcorn_only


def test_workers_are_subinterpreters_of_one_process(server):
    s = server("whoami:app", workers=3)
    answers = answers_from_workers(s, 3, at_least=30)
    pids = {a["pid"] for a in answers}  # one worker process, a child of the server process
    assert len(pids) == 1, pids
    with open(f"/proc/{pids.pop()}/status") as status:
        assert f"\nPPid:\t{s.pid}\n" in status.read()
    ids = {a["interpreter_id"] for a in answers}
    assert len(ids) == 3, ids
    assert 0 not in ids, "a request ran in the main interpreter"


def test_keep_alive_connections_are_balanced(server):
    s = server("whoami:app", workers=2)
    assert len({a["interpreter_id"] for a in answers_from_workers(s, 2)}) == 2
    time.sleep(0.2)  # let the server forget those connections
    conns = [RawConn(s.port) for _ in range(4)]  # a burst, all open together
    try:
        per_conn = [set() for _ in conns]
        for _ in range(5):
            for c, ids in zip(conns, per_conn):
                c.request("GET", "/")
                ids.add(json.loads(c.read_response().body)["interpreter_id"])
    finally:
        for c in conns:
            c.close()
    assert all(len(ids) == 1 for ids in per_conn), f"a connection moved: {per_conn}"
    spread = Counter(next(iter(ids)) for ids in per_conn)
    assert sorted(spread.values()) == [2, 2], spread


@pytest.mark.subcorn_only
def test_processes_mode_balances_connections_across_processes(server):
    # The supervisor accepts and hands each connection to the worker process
    # holding the fewest; the kernel alone would spread them by chance.
    s = server("whoami:app", "--mode", "processes", workers=2)
    for _ in range(3):  # three bursts: the counts go back down as connections close
        conns = [RawConn(s.port) for _ in range(4)]
        try:
            pids = []
            for c in conns:
                c.request("GET", "/")
                pids.append(json.loads(c.read_response().body)["pid"])
        finally:
            for c in conns:
                c.close()
        assert sorted(Counter(pids).values()) == [2, 2], pids
        assert s.pid not in pids
        time.sleep(0.3)
