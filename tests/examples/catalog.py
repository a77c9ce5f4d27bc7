"""The examples under test: how to serve each one and what to expect of it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    name: str
    apps: dict[str, str]  # interface -> import string, from the repository root
    setup: tuple[str, ...]  # arguments to python3.14 that create the schema
    table: str  # where the notes are, to count them in the database
    # The app's own answer when its database is down, a piece of its body (so
    # a 500 from the server itself would not pass for it) and of the log line
    # that says why (so a 500 for another reason would not either).
    db_down_status: int
    db_down_body: str
    db_down_log: str
    sqlite: bool = True  # also runs without PostgreSQL

    @property
    def simplest_db(self) -> str:
        return "sqlite" if self.sqlite else "postgres"


DJANGO = Example(
    name="django_site",
    apps={"wsgi": "examples.django_site.mysite.wsgi:application",
          "asgi": "examples.django_site.mysite.asgi:application"},
    setup=("examples/django_site/manage.py", "migrate", "--noinput"),
    table="notes_note",
    db_down_status=500, db_down_body="Server Error (500)",
    db_down_log="django.db.utils.OperationalError",
)

FLASK = Example(
    name="flask_sqlalchemy",
    apps={"wsgi": "examples.flask_sqlalchemy.app:app"},
    setup=("-m", "examples.flask_sqlalchemy.initdb"),
    table="notes",
    db_down_status=503, db_down_body="database unavailable",
    db_down_log="database unavailable: ",
)

PSYCOPG_POOL = Example(
    name="psycopg_pool_asgi",
    apps={"asgi": "examples.psycopg_pool_asgi.app:app"},
    setup=("-m", "examples.psycopg_pool_asgi.initdb"),
    table="notes",
    db_down_status=503, db_down_body="database unavailable",
    db_down_log="database unavailable: ",
    sqlite=False,
)

# What the tests serve: each example through each entry point it has.
Case = tuple[Example, str]
CASES: list[Case] = [(DJANGO, "wsgi"), (DJANGO, "asgi"), (FLASK, "wsgi"), (PSYCOPG_POOL, "asgi")]
SQLITE_CASES = [case for case in CASES if case[0].sqlite]


def case_id(case: Case) -> str:
    return f"{case[0].name}-{case[1]}"
