"""Apps of every shape that --interface auto must tell apart."""

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False, SECRET_KEY="test", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[], INSTALLED_APPS=[],
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from flask import Flask  # noqa: E402


def hello(request):
    return HttpResponse(f"django via {request.META.get('wsgi.version') and 'wsgi' or 'asgi'}")


urlpatterns = [path("", hello)]

django_wsgi = get_wsgi_application()
django_asgi = get_asgi_application()

flask_app = Flask(__name__)


@flask_app.get("/")
def flask_index():
    return "flask"


def wsgi_function(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi function"]


async def asgi_function(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"asgi function"})


class AsgiClass:
    async def __call__(self, scope, receive, send):
        await asgi_function(scope, receive, send)


asgi_instance = AsgiClass()
pid = os.getpid()
