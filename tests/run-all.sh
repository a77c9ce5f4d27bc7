#!/bin/sh
# Every test of the project, run inside the ./dev environment by `./dev test`
# (which has already built the extension in place). Stages:
#   1. C++ unit tests of the sans-IO HTTP layer, under ASan and UBSan (ctest)
#   2. a short libFuzzer run of every fuzz target (60 s in all by default,
#      SUBCORN_FUZZ_SECONDS to change it); a crash fails the run
#   3. pytest: the real server against real clients, and `pip install .`,
#      once under each supported Python ($SUBCORN_PYTHONS, set by ./dev:
#      python3.14 and python3.15), the server running under that Python
#   4. the Autobahn|Testsuite fuzzingclient against subcorn's WebSocket
#      (tests/autobahn; it writes build/reports/autobahn.xml, counted below),
#      under the first Python only: it tests the engine's WebSocket code, which
#      is C++ and the same on every Python (the echo app is four lines)
# Ends with one line "N passed, M failed" over all of them; the exit code is the result.
set -u
PYTHONS=${SUBCORN_PYTHONS:-python3.14 python3.15}
FIRST_PYTHON=${PYTHONS%% *}
cd "$(dirname "$0")/.."
REPORTS=build/reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
status=0

echo "== C++ unit tests (ASan, UBSan)"
cmake -S . -B build/cpptests -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DSUBCORN_EXTENSION=OFF -DSUBCORN_TESTS=ON >/dev/null &&
  cmake --build build/cpptests &&
  ctest --test-dir build/cpptests --output-on-failure --output-junit "$PWD/$REPORTS/ctest.xml" ||
  status=1

echo "== fuzz smoke run (${SUBCORN_FUZZ_SECONDS:-60}s across the targets)"
fuzz_failures=0
sh tests/fuzz/run.sh "${SUBCORN_FUZZ_SECONDS:-60}" >"$REPORTS/fuzz.log" 2>&1 || {
  tail -40 "$REPORTS/fuzz.log"; fuzz_failures=1; status=1
}
echo "<testsuite name=\"fuzz\" tests=\"1\" failures=\"$fuzz_failures\"/>" >"$REPORTS/fuzz.xml"

for python in $PYTHONS; do
  echo "== integration tests (pytest, $python)"
  started=$(date +%s)
  "$python" -m pytest -p no:cacheprovider -q tests/py tests/examples tests/install \
    tests/autobahn/test_results.py "$@" \
    --junitxml="$REPORTS/pytest-$python.xml" -o junit_suite_name="pytest-$python" || status=1
  echo "   ($python: $(( $(date +%s) - started )) s)"
done

echo "== Autobahn|Testsuite ($FIRST_PYTHON): WebSocket conformance, every case of sections 1-13 (10 to 15 minutes)"
"$FIRST_PYTHON" tests/autobahn/driver.py --server subcorn --full || status=1

"$FIRST_PYTHON" tests/summarize.py "$REPORTS"/*.xml || status=1
exit $status
