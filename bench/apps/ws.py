"""The WebSocket apps of the ws-* scenarios: plain ASGI 3, no framework.

- `echo`: answers each message with the same message (text as text, bytes as
  bytes).
- `broadcast`: sends each message it receives, from any connection, to every
  connection of its worker (the sender included), one after the other. A
  worker is what holds this module: a process, or one of subcorn's
  interpreters; with 1 worker that is every connection of the run.

Anything that is not a WebSocket (lifespan, and the harness's `GET /` that
checks the server is up) goes to the `hello` app.
"""

from bench.apps import hello
from bench.apps.hello import Message, Receive, Scope, Send


async def accept(receive: Receive, send: Send) -> bool:
    """Completes the handshake: True once the connection is open."""
    if (await receive())["type"] != "websocket.connect":
        return False
    await send({"type": "websocket.accept"})
    return True


def reply(message: Message) -> Message:
    """The message to send for one received: same type, same content."""
    text = message.get("text")
    if text is not None:
        return {"type": "websocket.send", "text": text}
    return {"type": "websocket.send", "bytes": message.get("bytes")}


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "websocket":
        await hello.app(scope, receive, send)
        return
    if not await accept(receive, send):
        return
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return  # websocket.disconnect
        await send(reply(message))


# This worker's open connections, by their send callable. A tuple replaced on
# each join and leave, so a broadcast iterates it without copying it first
# while a peer may leave during the sends.
_peers: tuple[Send, ...] = ()


def _leave(send: Send) -> None:
    global _peers
    _peers = tuple(peer for peer in _peers if peer is not send)


async def broadcast(scope: Scope, receive: Receive, send: Send) -> None:
    global _peers
    if scope["type"] != "websocket":
        await hello.app(scope, receive, send)
        return
    if not await accept(receive, send):
        return
    _peers += (send,)
    try:
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            out = reply(message)
            for peer in _peers:
                try:
                    await peer(out)
                except Exception:  # noqa: BLE001 - whatever a server raises for a peer that left
                    _leave(peer)
    finally:
        _leave(send)
