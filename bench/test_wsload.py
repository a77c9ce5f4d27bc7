"""wsload checks what it counts: run by hand, in the root, one at a time:

    ./dev run python3.14 -m pytest -q bench/test_wsload.py

Against uvicorn (the WebSocket server in the root) serving bench/apps/ws.py,
wsload must count every message right and report no error; against apps in
this file that get messages wrong on purpose, it must count the errors; a
server without WebSocket must fail the run with the reason.
"""

import json
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from bench import load_ws, servers
from bench.apps.hello import Receive, Scope, Send
from bench.apps.ws import accept, reply


@pytest.fixture(scope="module", autouse=True)
def built() -> None:
    problem = load_ws.build()
    assert problem is None, problem


def start_uvicorn(app: str, *flags: str) -> tuple[subprocess.Popen[bytes], int]:
    port = servers.free_port()
    proc = subprocess.Popen(
        [servers.PYTHON, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning",
         "--ws", "websockets-sansio", *flags],
        cwd=servers.REPO, env=servers.server_env(), stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection((servers.HOST, port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("uvicorn did not start")


@pytest.fixture
def uvicorn() -> Iterator:
    procs: list[subprocess.Popen[bytes]] = []

    def start(app: str, *flags: str) -> int:
        proc, port = start_uvicorn(app, *flags)
        procs.append(proc)
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def wsload(port: int, *args: str) -> tuple[int, dict | None, str]:
    done = subprocess.run(
        [str(load_ws.BINARY), "--port", str(port), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    data = json.loads(done.stdout) if done.returncode == 0 else None
    return done.returncode, data, done.stderr


# --- apps that get it wrong on purpose -------------------------------------


async def corrupt_every_other(scope: Scope, receive: Receive, send: Send) -> None:
    """Echoes, but flips the last byte of every second message."""
    if not await accept(receive, send):
        return
    count = 0
    while (message := await receive())["type"] == "websocket.receive":
        count += 1
        data = message["bytes"]
        if count % 2 == 0:
            data = data[:-1] + bytes([data[-1] ^ 1])
        await send({"type": "websocket.send", "bytes": data})


async def wrong_type(scope: Scope, receive: Receive, send: Send) -> None:
    """Echoes text messages as binary ones: same bytes, wrong type."""
    if not await accept(receive, send):
        return
    while (message := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "bytes": message["text"].encode()})


async def twice(scope: Scope, receive: Receive, send: Send) -> None:
    """Echoes each message twice: the second copy answers nothing."""
    if not await accept(receive, send):
        return
    while (message := await receive())["type"] == "websocket.receive":
        await send(reply(message))
        await send(reply(message))


_lossy_peers: list[Send] = []
_deliveries = 0


async def lossy_broadcast(scope: Scope, receive: Receive, send: Send) -> None:
    """Broadcasts, but skips every 10th delivery to a connection other than the
    sender: a gap in that sender's sequence at that receiver."""
    global _deliveries
    if not await accept(receive, send):
        return
    _lossy_peers.append(send)
    try:
        while (message := await receive())["type"] == "websocket.receive":
            for peer in list(_lossy_peers):
                _deliveries += 1
                if peer is not send and _deliveries % 10 == 0:
                    continue
                await peer(reply(message))
    finally:
        _lossy_peers.remove(send)


async def close_after_three(scope: Scope, receive: Receive, send: Send) -> None:
    """Echoes three messages, then closes the connection with 1011."""
    if not await accept(receive, send):
        return
    for _ in range(3):
        message = await receive()
        await send(reply(message))
    await send({"type": "websocket.close", "code": 1011})


# --- the tests -------------------------------------------------------------


def test_echo_binary_counts_every_echo(uvicorn) -> None:
    port = uvicorn("bench.apps.ws:echo")
    rc, data, err = wsload(port, "--connections", "8", "--duration", "1")
    assert rc == 0, err
    assert data["errors"] == 0 and data["lost"] == 0
    # A closed loop: every message sent was answered except one per connection.
    assert data["messages"] > 100
    assert data["sent"] - data["messages"] <= 8
    assert data["extensions"] == ""
    assert 0 < data["p50_us"] <= data["p99_us"] <= data["max_us"]


def test_echo_text_with_deflate_negotiates_and_counts(uvicorn) -> None:
    port = uvicorn("bench.apps.ws:echo")
    rc, data, err = wsload(port, "--connections", "4", "--duration", "1", "--kind", "text",
                           "--size", "16384", "--deflate")  # fmt: skip
    assert rc == 0, err
    assert data["errors"] == 0 and data["messages"] > 20
    assert data["extensions"].startswith("permessage-deflate")


def test_deflate_declined_still_works(uvicorn) -> None:
    port = uvicorn("bench.apps.ws:echo", "--ws-per-message-deflate", "false")
    rc, data, err = wsload(port, "--connections", "2", "--messages", "5", "--kind", "text",
                           "--size", "16384", "--deflate")  # fmt: skip
    assert rc == 0, err
    assert data == data | {"errors": 0, "messages": 10, "sent": 10, "extensions": ""}


def test_broadcast_counts_deliveries_to_every_connection(uvicorn) -> None:
    port = uvicorn("bench.apps.ws:broadcast")
    rc, data, err = wsload(port, "--connections", "4", "--mode", "broadcast", "--messages", "5")
    assert rc == 0, err
    # 4 connections x 5 messages, each delivered to all 4 (the window ends when the
    # last own message returns; a few others' may still be on their way).
    assert data["errors"] == 0 and data["sent"] == 20
    assert 4 * 20 - 4 * 3 <= data["messages"] <= 4 * 20


def test_a_corrupted_echo_is_an_error(uvicorn) -> None:
    port = uvicorn("bench.test_wsload:corrupt_every_other")
    rc, data, err = wsload(port, "--connections", "2", "--messages", "10")
    assert rc == 0, err
    assert data["sent"] == 20
    assert data["errors"] == 10 and data["messages"] == 10


def test_an_echo_of_the_wrong_type_is_an_error(uvicorn) -> None:
    port = uvicorn("bench.test_wsload:wrong_type")
    rc, data, err = wsload(port, "--connections", "1", "--messages", "4", "--kind", "text")
    assert rc == 0, err
    assert data["errors"] == 4 and data["messages"] == 0


def test_an_unasked_message_is_an_error(uvicorn) -> None:
    port = uvicorn("bench.test_wsload:twice")
    rc, data, err = wsload(port, "--connections", "1", "--messages", "3")
    assert rc == 0, err
    # The server sends m1 m1 m2 m2 m3 m3. m1 answers m1; its copy is taken as
    # the answer to m2 and differs; m2 as m3's and differs; the last three come
    # with nothing outstanding.
    assert data["sent"] == 3 and data["messages"] == 1 and data["errors"] == 5


def test_a_gap_in_a_broadcast_is_an_error(uvicorn) -> None:
    port = uvicorn("bench.test_wsload:lossy_broadcast")
    rc, data, err = wsload(port, "--connections", "4", "--mode", "broadcast", "--messages", "10")
    assert rc == 0, err
    assert data["sent"] == 40 and data["errors"] > 0
    assert data["messages"] < 4 * 40


def test_a_connection_the_server_closes_is_lost(uvicorn) -> None:
    port = uvicorn("bench.test_wsload:close_after_three")
    rc, data, err = wsload(port, "--connections", "2", "--duration", "2")
    assert rc == 1
    assert "every connection was lost: the server closed the connection with code 1011" in err


def test_a_server_without_websocket_fails_the_run(uvicorn) -> None:
    # --ws none: the upgrade reaches the app as plain HTTP; hello answers 200.
    port = uvicorn("bench.apps.ws:echo", "--ws", "none")
    rc, data, err = wsload(port, "--connections", "1", "--messages", "1")
    assert rc == 1 and data is None
    assert 'answered "HTTP/1.1 200 OK" to the upgrade, not 101' in err
