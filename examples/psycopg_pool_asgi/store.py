"""The notes table, through a psycopg_pool.ConnectionPool (sync, blocking:
the ASGI app calls these in a thread with asyncio.to_thread)."""

from __future__ import annotations

import atexit
import os
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

TITLE_MAX = 200
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS notes (
    id bigserial PRIMARY KEY,
    title varchar({TITLE_MAX}) NOT NULL,
    body text NOT NULL DEFAULT '',
    created timestamptz NOT NULL DEFAULT now()
)"""


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("set DATABASE_URL, e.g. postgresql://user:password@127.0.0.1:5432/notes")
    return url


def open_pool() -> ConnectionPool:
    """Opens the pool without waiting for its first connections, so the app
    starts (and answers 503 itself) while the database is down. The pool keeps
    connections in daemon threads: a scheduler and its workers."""
    pool = ConnectionPool(
        database_url(), name="notes", open=False,
        min_size=int(os.environ.get("DB_POOL_MIN", "2")),
        max_size=int(os.environ.get("DB_POOL_MAX", "10")),
        # How long a request waits for a connection before it gets a 503.
        timeout=float(os.environ.get("DB_POOL_TIMEOUT", "10")),
    )
    pool.open(wait=False)
    # Lifespan shutdown closes it too; atexit covers a server without lifespan.
    # An open pool would stall the interpreter's end waiting for its threads.
    atexit.register(pool.close)
    return pool


def list_notes(pool: ConnectionPool) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        rows = conn.execute("SELECT id, title, body, created FROM notes ORDER BY id").fetchall()
    return [{"id": id_, "title": title, "body": body, "created": created.isoformat()}
            for id_, title, body, created in rows]


def create_note(pool: ConnectionPool, title: str, body: str) -> int:
    with pool.connection() as conn:  # commits when the block ends without error
        row = conn.execute("INSERT INTO notes (title, body) VALUES (%s, %s) RETURNING id",
                           (title, body)).fetchone()
    assert row is not None
    return int(row[0])


def create_schema() -> None:
    with psycopg.connect(database_url()) as conn:
        conn.execute(SCHEMA)
