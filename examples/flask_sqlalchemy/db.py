"""The database: DATABASE_URL (PostgreSQL) or SQLite in $DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.pool import QueuePool


def database_url() -> URL:
    raw = os.environ.get("DATABASE_URL")
    if not raw:
        data_dir = Path(os.environ.get("DATA_DIR") or Path(__file__).resolve().parent)
        data_dir.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite", database=str(data_dir / "flask_notes.sqlite3"))
    url = make_url(raw)
    if url.drivername in ("postgres", "postgresql"):
        # psycopg 3. SQLAlchemy's default PostgreSQL driver is psycopg2, which
        # cannot load in a sub-interpreter (and, once it failed there, not in the
        # main interpreter of that process either).
        url = url.set(drivername="postgresql+psycopg")
    return url


def make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        # One pool per worker (each sub-interpreter imports the app, so each has
        # its own engine): 2 workers hold at most 2 x (5 + 10) connections.
        return create_engine(
            url, poolclass=QueuePool, pool_size=5, max_overflow=10,
            pool_timeout=float(os.environ.get("DB_POOL_TIMEOUT", "10")),
            pool_pre_ping=True,  # a connection the database dropped is replaced, not failed
            connect_args={"connect_timeout": 5},
        )
    # SQLite: workers write to one file; wait for the lock rather than fail.
    engine = create_engine(url, connect_args={"timeout": 20})
    event.listen(engine, "connect", _sqlite_wal)
    return engine


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.close()
