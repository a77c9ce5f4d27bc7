"""--metrics: the Prometheus endpoint, /healthz and /readyz on their own port.

Every scrape is parsed with prometheus_client's text parser (what a
Prometheus server reads), and the tests check that the counters move as
requests are served over HTTP/1.1, HTTP/2 and WebSocket, that the histogram
is consistent, that the probes answer while every shard is stuck in the app,
and that the numbers of several worker processes are joined (and survive a
worker that dies or is recycled)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect as ws_connect

from harness import free_port, run_failing

pytestmark = pytest.mark.subcorn_only

APP = "metrics_app:app"


def fetch(port: int, path: str, timeout: float = 5.0) -> tuple[int, str, float]:
    """GET http://127.0.0.1:port/path: (status, body, seconds it took)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode(), time.monotonic() - started
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), time.monotonic() - started


class Scrape:
    """One /metrics, parsed: value(name, **labels) of a sample."""

    def __init__(self, port: int):
        status, text, _ = fetch(port, "/metrics")
        assert status == 200, text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples
                 if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        assert found, f"no sample {name} {labels}"
        return sum(found)

    def by_label(self, name: str, label: str) -> dict[str, float]:
        return {s.labels[label]: s.value for s in self.samples if s.name == name}


def metered(server, *flags, workers: int = 2, app: str = APP):
    port = free_port()
    s = server(app, "--metrics", "--metrics-port", str(port), *flags, workers=workers)
    s.metrics_port = port
    wait_for(lambda: fetch(port, "/readyz")[0] == 200, 10, "the server is ready")
    return s


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def test_counters_move_over_http1_http2_and_websocket(server):
    s = metered(server)
    before = Scrape(s.metrics_port)
    assert before.value("subcorn_requests_total") == 0

    with httpx.Client(base_url=s.url) as http1:
        for _ in range(3):
            assert http1.get("/").text == "hello"
        assert http1.post("/", content=b"x" * 1000).status_code == 200
        assert http1.get("/status/404").status_code == 404
        assert http1.delete("/status/503").status_code == 503
        during = Scrape(s.metrics_port)
        assert during.value("subcorn_connections", protocol="http1") == 1
    with httpx.Client(base_url=s.url, http1=False, http2=True) as http2:
        for _ in range(2):
            r = http2.get("/h2")
            assert r.http_version == "HTTP/2" and r.text == "hello"
        r = http2.put("/status/302")
        assert r.status_code == 302
        during = Scrape(s.metrics_port)
        assert during.value("subcorn_connections", protocol="http2") == 1
    curl = subprocess.run(["curl", "-s", "--http2-prior-knowledge", f"{s.url}/curl"],
                          capture_output=True, text=True, timeout=10)
    assert curl.stdout == "hello"
    with ws_connect(f"ws://127.0.0.1:{s.port}/ws") as ws:
        for text in ("one", "two"):
            ws.send(text)
            assert ws.recv() == text
        during = Scrape(s.metrics_port)
        assert during.value("subcorn_connections", protocol="websocket") == 1

    wait_for(lambda: Scrape(s.metrics_port).value("subcorn_connections") == 0, 5,
             "every connection is closed")
    after = Scrape(s.metrics_port)
    assert after.value("subcorn_requests_total", method="GET", code="2xx") == 3 + 2 + 1
    assert after.value("subcorn_requests_total", method="POST", code="2xx") == 1
    assert after.value("subcorn_requests_total", method="GET", code="4xx") == 1
    assert after.value("subcorn_requests_total", method="DELETE", code="5xx") == 1
    assert after.value("subcorn_requests_total", method="PUT", code="3xx") == 1
    total = after.value("subcorn_requests_total")
    assert total == 10, "the WebSocket's handshake is not a request answered"
    # The workers' own counts add up to the same.
    assert sum(after.by_label("subcorn_worker_requests_total", "worker").values()) == total
    assert set(after.by_label("subcorn_worker_requests_total", "worker")) == {"0", "1"}
    # Bytes: at least the POST's body in, the bodies out.
    assert after.value("subcorn_received_bytes_total") > 1000
    assert after.value("subcorn_sent_bytes_total") > len("hello") * 6
    assert after.value("subcorn_requests_in_flight") == 0
    check_histogram(after, expected_count=total)


def check_histogram(scrape: Scrape, expected_count: float):
    buckets = [(s.labels["le"], s.value) for s in scrape.samples
               if s.name == "subcorn_request_duration_seconds_bucket"]
    bounds = [float(le) for le, _ in buckets]
    counts = [v for _, v in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf")
    assert counts == sorted(counts), f"buckets must be cumulative: {buckets}"
    assert counts[-1] == scrape.value("subcorn_request_duration_seconds_count") == expected_count
    assert 0 < scrape.value("subcorn_request_duration_seconds_sum") < expected_count * 1.0


def test_duration_of_a_slow_request_lands_in_its_bucket(server):
    s = metered(server, workers=1)
    with httpx.Client(base_url=s.url) as c:
        assert c.get("/block", params={"s": "0.3"}).text == "unblocked"
    scrape = Scrape(s.metrics_port)
    le = dict((s.labels["le"], s.value) for s in scrape.samples
              if s.name == "subcorn_request_duration_seconds_bucket")
    assert le["0.25"] == 0 and le["0.5"] == 1
    assert 0.3 <= scrape.value("subcorn_request_duration_seconds_sum") < 0.5


def test_rejections_by_status(server):
    s = metered(server, "--limit-request-field-size", "100", workers=1)
    with socket.create_connection(("127.0.0.1", s.port)) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", s.port)) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 200 + b"\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 431")
    with httpx.Client(base_url=s.url) as c:
        assert c.get("/status/503").status_code == 503  # the app's 503 is no rejection
    scrape = Scrape(s.metrics_port)
    assert scrape.by_label("subcorn_rejections_total", "status") == {
        "400": 1, "408": 0, "413": 0, "431": 1, "503": 0}


def test_health_answers_while_every_shard_is_busy(server):
    s = metered(server, workers=2)
    assert fetch(s.metrics_port, "/healthz")[:2] == (200, "ok\n")
    # Both shards sleep inside the app: neither loop runs.
    blocked = [threading.Thread(target=httpx.get, args=(f"{s.url}/block?s=4",),
                                kwargs={"timeout": 10}) for _ in range(2)]
    for t in blocked:
        t.start()
    wait_for(lambda: Scrape(s.metrics_port).value("subcorn_requests_in_flight") == 2, 5,
             "both requests are in their app")
    # The next tick was due within a second of the block: two seconds on,
    # it is more than a second late on each shard.
    time.sleep(2.1)
    status, body, took = fetch(s.metrics_port, "/healthz")
    assert status == 503 and "late for its tick" in body, body
    assert took < 0.5, "the probe waited for the app"
    scrape = Scrape(s.metrics_port)
    lags = scrape.by_label("subcorn_worker_loop_lag_seconds", "worker")
    assert set(lags) == {"0", "1"} and min(lags.values()) >= 1.0, lags
    assert fetch(s.metrics_port, "/readyz")[0] == 200, "busy is not draining"
    for t in blocked:
        t.join()
    wait_for(lambda: fetch(s.metrics_port, "/healthz")[0] == 200, 3, "healthy again")
    # The late tick said how late it was; the next ones are on time.
    wait_for(lambda: max(Scrape(s.metrics_port).by_label("subcorn_worker_loop_lag_seconds",
                                                         "worker").values()) < 0.5,
             3, "the lag is back to nothing")


def test_wsgi_threads_counted_in_flight_while_the_shard_stays_healthy(server):
    s = metered(server, "--threads", "4", workers=1, app="wsgi_apps:slow")
    slow = [threading.Thread(target=httpx.get, args=(f"{s.url}/slow",), kwargs={"timeout": 10})
            for _ in range(4)]
    for t in slow:
        t.start()
    wait_for(lambda: Scrape(s.metrics_port).value("subcorn_requests_in_flight") == 4, 5,
             "four requests run on the worker threads")
    # The views block their threads, not the shard's loop.
    assert fetch(s.metrics_port, "/healthz")[0] == 200
    for t in slow:
        t.join()
    scrape = Scrape(s.metrics_port)
    assert scrape.value("subcorn_requests_in_flight") == 0
    assert scrape.value("subcorn_requests_total", method="GET", code="2xx") == 4
    assert scrape.value("subcorn_request_duration_seconds_bucket", le="0.5") == 0
    assert scrape.value("subcorn_request_duration_seconds_bucket", le="2.5") == 4


def test_busy_ratio_follows_a_busy_shard(server):
    # The app keeps its shard on the CPU (/spin): a client's plain requests
    # keep it there only as much as the client itself gets a CPU, under 5%
    # of the time on a loaded machine. The ratio is sampled once a second;
    # the deadlines are for a machine ten times slower than a quiet one.
    s = metered(server, workers=1)

    def ratio() -> float:
        return Scrape(s.metrics_port).value("subcorn_worker_busy_ratio", worker="0")

    busy = 0.0
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=s.url, timeout=10) as c:
        while busy <= 0.05 and time.monotonic() < deadline:
            assert c.get("/spin", params={"s": "0.3"}).text == "spun"
            busy = ratio()
    idle = busy
    deadline = time.monotonic() + 30
    while idle >= 0.05 and time.monotonic() < deadline:
        time.sleep(0.2)
        idle = ratio()
    assert 0.05 < busy <= 1.0 and idle < 0.05, (busy, idle)


def test_readyz_says_not_ready_while_draining(server):
    s = metered(server, "--timeout-graceful-shutdown", "10", workers=1)
    slow = threading.Thread(target=httpx.get, args=(f"{s.url}/block?s=2",), kwargs={"timeout": 10})
    slow.start()
    wait_for(lambda: Scrape(s.metrics_port).value("subcorn_requests_in_flight") == 1, 5,
             "the request is in its app")
    os.kill(s.pid, signal.SIGTERM)
    wait_for(lambda: fetch(s.metrics_port, "/readyz")[0] == 503, 3, "not ready")
    assert fetch(s.metrics_port, "/readyz")[1] == "not ready: starting or draining\n"
    slow.join()
    assert s.wait(15) == 0


def test_other_paths_and_methods(server):
    s = metered(server, workers=1)
    assert fetch(s.metrics_port, "/")[0] == 404
    assert fetch(s.metrics_port, "/metrics/extra")[0] == 404
    r = httpx.post(f"http://127.0.0.1:{s.metrics_port}/metrics")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    r = httpx.head(f"http://127.0.0.1:{s.metrics_port}/metrics")
    assert r.status_code == 200 and r.content == b"" and int(r.headers["content-length"]) > 100
    with socket.create_connection(("127.0.0.1", s.metrics_port)) as c:
        c.sendall(b"GET /metrics HTTP/1.1\r\nBad Header: y\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 400")
    # The app's port knows nothing of it.
    assert httpx.get(f"{s.url}/metrics").text == "hello"


def test_worker_processes_are_joined_and_survive_a_death(server):
    s = metered(server, "--mode", "processes", workers=2)
    with httpx.Client(base_url=s.url) as c:
        for _ in range(10):
            c.get("/", headers={"connection": "close"})
    wait_for(lambda: Scrape(s.metrics_port).value("subcorn_requests_total") == 10, 5, "counted")
    served = Scrape(s.metrics_port).by_label("subcorn_worker_requests_total", "worker")
    assert set(served) == {"0", "1"} and sum(served.values()) == 10
    victim = int(httpx.get(f"{s.url}/pid", headers={"connection": "close"}).text)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: sum(Scrape(s.metrics_port).by_label("subcorn_worker_restarts_total",
                                                          "worker").values()) == 1,
             10, "the restart is counted")
    wait_for(lambda: fetch(s.metrics_port, "/readyz")[0] == 200, 10, "ready again")
    wait_for(lambda: _answered_by_another(s, victim), 10, "a new worker serves")
    scrape = Scrape(s.metrics_port)
    # The dead worker's requests are still counted (11 and more: 10, /pid, and the probes).
    assert scrape.value("subcorn_requests_total") >= 12
    assert fetch(s.metrics_port, "/healthz")[0] == 200


def _answered_by_another(s, victim: int) -> bool:
    try:
        return int(httpx.get(f"{s.url}/pid", headers={"connection": "close"}).text) != victim
    except httpx.HTTPError:
        return False


def test_not_ready_while_no_worker_process_serves(server):
    s = metered(server, workers=1)  # interpreters mode: one worker process holds every shard
    victim = int(httpx.get(f"{s.url}/pid", headers={"connection": "close"}).text)
    statuses = []
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (503 in statuses and statuses[-1] == 200):
        statuses.append(fetch(s.metrics_port, "/readyz")[0])
        time.sleep(0.02)
    assert 503 in statuses and statuses[-1] == 200, statuses[-20:]
    assert Scrape(s.metrics_port).value("subcorn_worker_restarts_total", worker="0") == 1


def test_recycled_interpreter_keeps_its_workers_counts(server):
    s = metered(server, "--max-requests", "5", workers=1)
    with httpx.Client(base_url=s.url) as c:
        for _ in range(5):
            c.get("/", headers={"connection": "close"})
    wait_for(lambda: Scrape(s.metrics_port).value("subcorn_worker_recycles_total", worker="0") == 1,
             10, "the recycle is counted")
    with httpx.Client(base_url=s.url) as c:
        for _ in range(3):
            c.get("/", headers={"connection": "close"})
    wait_for(lambda: Scrape(s.metrics_port).value("subcorn_worker_requests_total",
                                                  worker="0") == 8, 5, "every request counted")


@pytest.mark.parametrize("flags, message", [
    (["--metrics-port", "{port}"], "is the app's port"),
    (["--metrics-port", "70000"], "--metrics-port must be between 0 and 65535"),
    (["--metrics-host", "0.0.0.0", "--metrics-port", "{port}"], "is the app's port"),
])
def test_bad_flags_are_one_line_and_exit_1(flags, message):
    port = free_port()
    r = run_failing(APP, "--metrics", *[f.format(port=port) for f in flags], port=port)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert "Traceback" not in r.stderr


def test_metrics_port_in_use_is_one_line_and_exit_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = run_failing(APP, "--metrics", "--metrics-port", str(taken.getsockname()[1]))
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "--metrics" in errors[0] and "in use" in errors[0], r.stderr


def test_without_the_flag_nothing_listens(server):
    port = free_port()
    s = server(APP, "--metrics-port", str(port), workers=1)
    assert httpx.get(s.url).text == "hello"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
