"""A Starlette app with a WebSocket route, for the handshake tests: the same
echo protocol as ws_echo.py's /echo (text "close-me": the app closes with
4001 "done"), the disconnect recorded with ws_events.record."""

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from ws_events import record


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            record("disconnect", path=websocket.url.path, code=message.get("code"),
                   reason=message.get("reason") or "")
            return
        text = message.get("text")
        if text == "close-me":
            await websocket.close(code=4001, reason="done")
            record("app_closed", path=websocket.url.path)
            return
        if text is not None:
            await websocket.send_text(text)
        else:
            await websocket.send_bytes(message["bytes"])


app = Starlette(routes=[WebSocketRoute("/echo", echo)])
