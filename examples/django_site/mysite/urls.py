import re

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve
from django.urls import path, re_path

from notes import views

urlpatterns = [
    path("", views.index, name="index"),
    path("api/notes", views.notes_api, name="notes-api"),
    path("api/boom", views.boom),
    path("healthz", views.healthz),
    path("admin/", admin.site.urls),
]

if settings.SERVE_STATIC:
    # staticfiles' own view finds each file in the app that ships it, so no
    # collectstatic step is needed; insecure=True lets it run with DEBUG off.
    # Fine for an example; in production let a front server serve STATIC_ROOT.
    prefix = re.escape(settings.STATIC_URL.lstrip("/"))
    urlpatterns.append(re_path(rf"^{prefix}(?P<path>.*)$", serve, {"insecure": True}))
