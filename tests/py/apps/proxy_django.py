"""A one-view Django WSGI app for the proxy tests: what Django makes of the
request behind a proxy (is_secure, build_absolute_uri, REMOTE_ADDR)."""

import json

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="proxy-test",
    ALLOWED_HOSTS=["shop.example", "localhost", "127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def whoami(request):
    return HttpResponse(json.dumps({
        "is_secure": request.is_secure(),
        "absolute_uri": request.build_absolute_uri(),
        "remote_addr": request.META.get("REMOTE_ADDR"),
    }), content_type="application/json")


urlpatterns = [path("whoami", whoami)]
application = get_wsgi_application()
