"""A FastAPI app with pydantic models works out of the box: --mode auto finds
that pydantic_core refuses sub-interpreters, says so, and serves with worker
processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pgserver import free_port

REPO = Path(__file__).resolve().parents[2]


def start(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if k.startswith("SUBCORN_DEV_") or not k.startswith("SUBCORN_")}
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "subcorn", "examples.fastapi_app.app:app", "--workers", "2",
             "--port", str(port), "--no-access-log"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/where", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("not ready in 60 s:\n" + log.read_text())


def test_fastapi_app_is_served_with_worker_processes(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    proc = start(port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log)
        text = log.read_text()
        assert "pydantic_core._pydantic_core" in text
        assert "does not support loading in subinterpreters" in text
        assert "processes mode" in text

        ok = httpx.post(url + "/items", json={"name": "pen", "price": 1.5, "tags": ["office"]})
        assert ok.status_code == 200
        assert ok.json() == {"name": "pen", "price_with_tax": 1.8, "tags": ["office"]}
        invalid = httpx.post(url + "/items", json={"name": "", "price": -1})
        assert invalid.status_code == 422
        assert {e["loc"][-1] for e in invalid.json()["detail"]} == {"name", "price"}

        seen = [httpx.get(url + "/where", headers={"Connection": "close"}).json()
                for _ in range(10)]
        # The app runs in the main interpreter of worker processes, children of
        # the server process (the supervisor), never in the supervisor itself.
        assert {w["interpreter"] for w in seen} == {0}
        assert {w["ppid"] for w in seen} == {proc.pid}
        assert proc.pid not in {w["pid"] for w in seen}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0, log.read_text()
