import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import Note

TITLE_MAX = Note._meta.get_field("title").max_length


def index(request: HttpRequest) -> HttpResponse:
    """A template view: the latest notes, styled by a static file."""
    return render(request, "notes/index.html", {"notes": Note.objects.all()[:50]})


# A JSON API for programs, not browsers: no session, so no CSRF token.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def notes_api(request: HttpRequest) -> JsonResponse:
    """GET: every note, oldest first. POST {"title": ..., "body": ...}: 201 {"id": ...}."""
    if request.method == "GET":
        return JsonResponse({"notes": [n.as_dict() for n in Note.objects.order_by("id")]})
    try:
        data = json.loads(request.body)
    except ValueError:  # also UnicodeDecodeError
        return JsonResponse({"error": "the body must be JSON"}, status=400)
    title = data.get("title") if isinstance(data, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
        return JsonResponse({"error": f"'title' must be a non-empty string of at most {TITLE_MAX} characters"},
                            status=400)
    note = Note.objects.create(title=title, body=str(data.get("body", "")))
    return JsonResponse({"id": note.id}, status=201)


def boom(request: HttpRequest) -> HttpResponse:
    """Fails on purpose: shows what the server does with an exception in a view
    (Django answers 500 and logs the traceback; the worker keeps serving)."""
    raise RuntimeError("boom: this view fails on purpose")


def healthz(request: HttpRequest) -> HttpResponse:
    """Answers without touching the database."""
    return HttpResponse("ok", content_type="text/plain")
