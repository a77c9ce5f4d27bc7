"""More app shapes for --interface: partials and Starlette, beside the ones
in interfaces.py (functions, an async __call__, Django's handlers, Flask)."""

import functools

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from interfaces import asgi_function, asgi_instance, django_asgi, django_wsgi, flask_app, wsgi_function  # noqa: F401


def wsgi_with_greeting(greeting, environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [greeting.encode()]


async def asgi_with_greeting(greeting, scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": greeting.encode()})


wsgi_partial = functools.partial(wsgi_with_greeting, "wsgi partial")
asgi_partial = functools.partial(asgi_with_greeting, "asgi partial")


async def starlette_index(request):
    return PlainTextResponse("starlette")


starlette_app = Starlette(routes=[Route("/", starlette_index)])
