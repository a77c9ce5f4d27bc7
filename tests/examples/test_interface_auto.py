"""subcorn's --interface auto tells each example's WSGI or ASGI entry point
apart, and serves it."""

from __future__ import annotations

import pytest

from appserver import SERVER
from catalog import CASES, Case, case_id
from checks import check_crud
from launch import Launcher

pytestmark = pytest.mark.skipif(SERVER != "subcorn", reason="--interface auto is subcorn's")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_interface_auto(launcher: Launcher, case: Case) -> None:
    example, interface = case
    with launcher.serve(example, interface, db=example.simplest_db,
                        interface_flag="auto") as server:
        check_crud(server)
        # Worker 0 says what it detected; it may come up after another worker
        # has already served the requests above.
        assert server.wait_for_log(f"{example.apps[interface]} as {interface.upper()}", 20), server.describe()
