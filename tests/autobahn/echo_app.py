"""The app the Autobahn|Testsuite talks to: an ASGI WebSocket echo.

Every message comes back as it came: text as text, bytes as bytes. Everything
else the suite checks (framing, fragmentation, UTF-8 validation, pings, close
codes, permessage-deflate) is the server's job, which is the point. A plain
HTTP request gets a one-line 200 (a browser pointed at the port, or a probe).

    subcorn echo_app:app --app-dir tests/autobahn --port 9001
"""


async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await echo(receive, send)
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"WebSocket echo: connect with ws://\n"})
    elif scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})


async def echo(receive, send):
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
    # websocket.disconnect: the server has finished the close handshake.
