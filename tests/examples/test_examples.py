"""Every example through the server: CRUD on SQLite and on PostgreSQL, 500
concurrent writes, a failing view, an abandoned upload, a database that is down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appserver import AppServer
from catalog import CASES, SQLITE_CASES, Case, Example, case_id
from checks import (check_abandoned_upload, check_clean_log, check_concurrent_writes, check_crud,
                    check_database_down, check_view_exception)
from launch import Launcher


@pytest.fixture(scope="module", params=SQLITE_CASES, ids=case_id)
def on_sqlite(request: pytest.FixtureRequest, launcher: Launcher) -> Iterator[AppServer]:
    with launcher.serve(*request.param) as server:
        yield server


@pytest.fixture(scope="module", params=CASES, ids=case_id)
def on_postgres(request: pytest.FixtureRequest, launcher: Launcher) -> Iterator[tuple[AppServer, Example]]:
    with launcher.serve(*request.param, db="postgres") as server:
        yield server, request.param[0]


@pytest.fixture(scope="module", params=CASES, ids=case_id)
def one_worker(request: pytest.FixtureRequest, launcher: Launcher) -> Iterator[AppServer]:
    """One worker, so a request that wedged it would stall the next ones."""
    example, interface = request.param
    with launcher.serve(example, interface, db=example.simplest_db, workers=1) as server:
        yield server


def test_crud_sqlite(on_sqlite: AppServer) -> None:
    check_crud(on_sqlite)


def test_crud_postgres(on_postgres: tuple[AppServer, Example]) -> None:
    check_crud(on_postgres[0])


def test_clean_log_postgres(on_postgres: tuple[AppServer, Example]) -> None:
    check_clean_log(on_postgres[0])


def test_500_concurrent_writes_postgres(on_postgres: tuple[AppServer, Example]) -> None:
    check_concurrent_writes(*on_postgres)


def test_view_exception(one_worker: AppServer) -> None:
    check_view_exception(one_worker)


def test_abandoned_upload(one_worker: AppServer) -> None:
    check_abandoned_upload(one_worker)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_database_down(launcher: Launcher, case: Case) -> None:
    with launcher.serve(*case, db="down") as server:
        check_database_down(server, case[0])


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == "wsgi"], ids=case_id)
def test_500_concurrent_writes_postgres_threads(launcher: Launcher, case: Case) -> None:
    """The same with 4 threads per worker: the database pools now serve
    several requests at once inside each worker."""
    with launcher.serve(*case, db="postgres", threads=4) as server:
        check_concurrent_writes(server, case[0])
