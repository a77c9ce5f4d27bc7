"""Request bodies, by path:

/collect     reads every http.request message; returns their shapes, the total
             length and the sha256 of the body
/echo        returns the body
/noread      answers without reading the body
/disconnect  reads the body, then awaits receive() once more and writes the type
             of what it got to the file named by TESTAPP_DISCONNECT_FILE
"""

import hashlib
import os

from common import lifespan_noop, read_body, respond, respond_json


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan_noop(receive, send)
    path = scope["path"]
    if path == "/collect":
        messages, body = [], b""
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            messages.append({"type": message["type"], "len": len(chunk),
                             "more_body": message.get("more_body", False)})
            body += chunk
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await respond_json(send, {"messages": messages, "length": len(body),
                                  "sha256": hashlib.sha256(body).hexdigest()})
    elif path == "/echo":
        await respond(send, await read_body(receive))
    elif path == "/noread":
        await respond(send, b"did not read")
    elif path == "/disconnect":
        await read_body(receive)
        message = await receive()
        with open(os.environ["TESTAPP_DISCONNECT_FILE"], "w") as f:
            f.write(message["type"])
    else:
        await respond(send, b"not found", status=404)
