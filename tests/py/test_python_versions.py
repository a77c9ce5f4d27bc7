"""The server under each supported Python (docs/python-versions.md): `./dev
test` runs every test under python3.14 and python3.15, the server under the
same Python as the tests. What differs between the versions is tested here."""

from __future__ import annotations

import sys

import httpx
import pytest

from harness import TRACEBACK

pytestmark = pytest.mark.subcorn_only

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_shards_are_own_gil_sub_interpreters_of_the_python_running_the_tests(server):
    s = server("python_version:app", workers=2)
    seen = {}
    for _ in range(20):
        info = httpx.get(s.url + "/", headers={"Connection": "close"}).json()
        seen[info["interpreter"]] = info
    assert all(i != 0 for i in seen), seen  # never the main interpreter
    for info in seen.values():
        assert info["python"] == PYTHON
        assert (info["gil"], info["use_main_obmalloc"]) == ("own", False)
        assert info["task"] == "Task"  # the app runs in an (eager) asyncio Task


def test_missing_extension_build_is_logged_with_its_traceback(server):
    # On 3.15.2 formatting this error's traceback raises inside the logging
    # module (python/cpython#151631: its new "built for a different Python"
    # hint imports the failing package again), which printed "--- Logging
    # error ---" instead of the app's traceback.
    s = server("python_version:app")
    assert httpx.get(s.url + "/missing").status_code == 500
    assert s.stop() == 0
    assert "Exception in ASGI application" in s.output
    assert TRACEBACK in s.output
    assert "ModuleNotFoundError: No module named 'nobuild._speedups'" in s.output
    assert "--- Logging error ---" not in s.output


def test_missing_extension_build_is_logged_in_json_too(server):
    s = server("python_version:app", "--log-format", "json")
    assert httpx.get(s.url + "/missing").status_code == 500
    assert s.stop() == 0
    assert "No module named 'nobuild._speedups'" in s.output
    assert TRACEBACK in s.output
    assert "--- Logging error ---" not in s.output
