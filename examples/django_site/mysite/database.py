"""DATABASES["default"] from the environment.

DATABASE_URL=postgresql://user:password@host:port/name selects PostgreSQL
(psycopg 3, with Django's psycopg_pool connection pool: the pool runs daemon
threads, which subcorn's workers allow). Without it, SQLite in
$DATA_DIR/db.sqlite3 (data_dir(): the demo's directory unless DATA_DIR says
otherwise, so `./dev demo` and a plain `manage.py createsuperuser` use the
same database).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


def data_dir() -> Path:
    """Where the SQLite file and collectstatic's output go: $DATA_DIR, else
    $TMPDIR/subcorn-django-demo (outside the source tree)."""
    return Path(os.environ.get("DATA_DIR") or Path(tempfile.gettempdir()) / "subcorn-django-demo")


def from_env() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return from_url(url)
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return sqlite(directory / "db.sqlite3")


def from_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # As in SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db
        return sqlite(Path(unquote(parts.path[1:])))
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r} (postgresql:// or sqlite:///)")
    options: dict[str, Any] = dict(parse_qsl(parts.query))
    host = options.pop("host", None) or parts.hostname or ""  # ?host=/run/postgresql: a unix socket
    options["pool"] = {
        "min_size": int(os.environ.get("DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("DB_POOL_MAX", "10")),
        # How long a request waits for a connection before it fails (with the
        # database down, this is how long until the 500).
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "10")),
    }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 0,  # the pool keeps connections; Django requires 0 with it
        "OPTIONS": options,
    }


def sqlite(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            # Two workers write to one file: wait for the lock instead of failing
            # at once, take it when the transaction starts (no deadlock on upgrade),
            # and let readers run beside the writer.
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
