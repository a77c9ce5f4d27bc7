"""The Autobahn|Testsuite against the server under test: every case the
driver runs by default (sections 1-13 but the large compression cases)
passes: OK, NON-STRICT or INFORMATIONAL; UNIMPLEMENTED only for compression
cases when the server does not accept permessage-deflate.

    ./dev run python3.14 -m pytest -q tests/autobahn
    SUBCORN_TEST_SERVER=uvicorn ./dev run python3.14 -m pytest -q tests/autobahn

The server is subcorn, or uvicorn (`--ws websockets`) with
SUBCORN_TEST_SERVER=uvicorn, as in tests/py. The reports land in
build/reports (autobahn.md, autobahn.xml, autobahn/index.html).
"""

import os

import pytest

import driver
import results

SERVER = os.environ.get("SUBCORN_TEST_SERVER", "subcorn") or "subcorn"


@pytest.mark.timeout(driver.QUICK.timeout + 120)
def test_every_autobahn_case_passes():
    run = driver.run_suite(driver.SERVERS[SERVER], agent=SERVER)
    # Every section was asked for, compression included (8 and 11 do not exist).
    assert {c.section for c in run.cases} == {str(n) for n in (*range(1, 8), 9, 10, 12, 13)}
    # A case wstest never got to (the server died) counts as failed.
    assert len(run.failures) == 0, results.markdown(run, most_failures=20)
