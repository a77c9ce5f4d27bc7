"""Fixtures: a real PostgreSQL for the whole session (started only when a test
needs it), and `launcher`, which serves an example on a fresh database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from launch import Launcher
from pgserver import PostgreSQL


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgreSQL]:
    pg = PostgreSQL()
    try:
        yield pg.start()
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def launcher(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Launcher:
    return Launcher(request, tmp_path_factory)
