"""Flask + SQLAlchemy: JSON list and create endpoints over a pooled engine.

    python3.14 -m examples.flask_sqlalchemy.initdb
    subcorn examples.flask_sqlalchemy.app:app --interface wsgi --workers 2
"""

from __future__ import annotations

import atexit
from typing import Any

from flask import Flask, request
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from .db import database_url, make_engine
from .models import TITLE_MAX, Note

Response = tuple[dict[str, Any], int]


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(database_url())
    atexit.register(engine.dispose)  # close pooled connections when the worker ends
    Session = sessionmaker(engine, expire_on_commit=False)

    @app.get("/api/notes")
    def list_notes() -> dict[str, Any]:
        with Session() as session:
            notes = session.scalars(select(Note).order_by(Note.id)).all()
        return {"notes": [note.as_dict() for note in notes]}

    @app.post("/api/notes")
    def create_note() -> Response:
        data = request.get_json(silent=True)
        title = data.get("title") if isinstance(data, dict) else None
        if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
            return {"error": f"the body must be JSON with a 'title' of 1 to {TITLE_MAX} characters"}, 400
        with Session.begin() as session:
            note = Note(title=title, body=str(data.get("body", "")))
            session.add(note)
            session.flush()  # assigns the id
            return {"id": note.id}, 201

    @app.get("/api/boom")
    def boom() -> Response:
        """Fails on purpose: Flask answers 500 and logs the traceback."""
        raise RuntimeError("boom: this view fails on purpose")

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Response:
        # The database is down or unreachable: say so, and keep serving.
        app.logger.error("database unavailable: %s", error.orig or error)
        return {"error": "database unavailable"}, 503

    return app


app = create_app()
