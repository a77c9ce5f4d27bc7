"""The WebSocket chat example (examples/websocket): its page is served, and a
message from one client reaches every client, through the real server."""

from __future__ import annotations

import httpx
from websockets.sync.client import connect

from appserver import AppServer, running


def test_chat_example_broadcasts_to_every_client(tmp_path) -> None:
    server = AppServer("examples.websocket.chat:app", "asgi", tmp_path / "chat", workers=1)
    with running(server):
        page = httpx.get(server.url + "/")
        assert page.status_code == 200 and "new WebSocket" in page.text
        ws_url = server.url.replace("http://", "ws://") + "/chat"
        with connect(ws_url) as alice, connect(ws_url) as bob:
            alice.send("hello from alice")
            assert alice.recv(timeout=5) == "hello from alice"
            assert bob.recv(timeout=5) == "hello from alice"
            bob.send("hi alice")
            assert alice.recv(timeout=5) == "hi alice"
            assert bob.recv(timeout=5) == "hi alice"
        # Both left: the room is empty again, and a newcomer gets only new messages.
        with connect(ws_url) as carol:
            carol.send("anyone?")
            assert carol.recv(timeout=5) == "anyone?"
