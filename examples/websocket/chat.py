"""A WebSocket chat room in plain ASGI: every message a client sends goes to
every client of this worker. Serve it with

    subcorn examples.websocket.chat:app --workers 1

and open http://127.0.0.1:8000/ in two browser tabs. (With several workers a
room is per worker: each interpreter has its own `clients` set; share through
Redis or a database to span them.)
"""

from pathlib import Path

PAGE = (Path(__file__).resolve().parent / "chat.html").read_bytes()
clients = set()


async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})
        await send({"type": "http.response.body", "body": PAGE})
        return
    if scope["type"] != "websocket":
        return
    message = await receive()                      # websocket.connect
    await send({"type": "websocket.accept"})
    clients.add(send)
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or message.get("bytes", b"").decode(errors="replace")
            for peer in list(clients):
                try:
                    await peer({"type": "websocket.send", "text": text})
                except OSError:                    # subcorn.ClientDisconnected: that peer left
                    clients.discard(peer)
    finally:
        clients.discard(send)
