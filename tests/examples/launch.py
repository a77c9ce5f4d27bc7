"""Launcher: serves an example on a fresh database (SQLite, PostgreSQL, or a
PostgreSQL URL with nothing behind it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from appserver import AppServer, run_setup, running
from catalog import Example
from pgserver import PostgreSQL, free_port


class Launcher:
    def __init__(self, request: pytest.FixtureRequest, tmp: pytest.TempPathFactory) -> None:
        self.request = request
        self.tmp = tmp

    @contextmanager
    def serve(self, example: Example, interface: str, db: str = "sqlite", workers: int = 2,
              threads: int = 1, interface_flag: str | None = None) -> Iterator[AppServer]:
        """Serves `example` on a new database: db is "sqlite", "postgres" or
        "down" (a PostgreSQL URL with nothing listening)."""
        tag = f"{example.name}-{interface_flag or interface}-{db}-w{workers}t{threads}"
        env = self.database(db, tag)
        if db != "down":
            run_setup(list(example.setup), env)
        server = AppServer(example.apps[interface], interface, self.tmp.mktemp(tag), workers, threads,
                           env, interface_flag)
        with running(server):
            yield server

    def database(self, db: str, tag: str) -> dict[str, str]:
        if db == "sqlite":
            return {"DATA_DIR": str(self.tmp.mktemp(tag + "-data"))}
        if db == "postgres":
            postgres: PostgreSQL = self.request.getfixturevalue("postgres")
            return {"DATABASE_URL": postgres.createdb(tag.replace("-", "_"))}
        if db == "down":
            # A short pool timeout: the pooled examples wait this long for a
            # connection before they answer their error.
            return {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/down",
                    "DB_POOL_TIMEOUT": "2"}
        raise ValueError(db)
