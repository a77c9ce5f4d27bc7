#!/bin/sh
# Builds the libFuzzer targets with clang and runs every one of them, sharing
# TOTAL_SECONDS (default 60) equally: the fuzz stage of `./dev test`.
# Run inside the project environment, e.g.
#   SUBCORN_NO_BUILD=1 ./dev run sh tests/fuzz/run.sh 600
# Each target starts from its committed seeds, tests/fuzz/corpus/<target>/,
# which are only read; what it finds goes to build/fuzz/corpus/<target>/.
# A crash (a sanitizer report, a broken invariant, a leak) is written to
# build/fuzz/artifacts/ and makes this script fail. Long runs of one target
# and refreshing the seeds: tests/fuzz/README.md.
set -eu
TOTAL_SECONDS=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build/fuzz
TARGETS="fuzz_request_parser fuzz_chunked fuzz_body_spool fuzz_ws_session fuzz_http2_session fuzz_proxy_protocol"

GENERATOR=
command -v ninja >/dev/null 2>&1 && GENERATOR="-G Ninja"
# shellcheck disable=SC2086  # GENERATOR is two words or none
cmake -S "$ROOT" -B "$BUILD" $GENERATOR -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSUBCORN_EXTENSION=OFF -DSUBCORN_FUZZ=ON >/dev/null
cmake --build "$BUILD"

# No llvm-symbolizer in the root; addr2line still names the functions in a trace.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v addr2line >/dev/null 2>&1; then
  ASAN_SYMBOLIZER_PATH=$(command -v addr2line)
  export ASAN_SYMBOLIZER_PATH
fi

# shellcheck disable=SC2086  # one word per target
set -- $TARGETS
seconds=$((TOTAL_SECONDS / $#))
[ "$seconds" -ge 1 ] || seconds=1
mkdir -p "$BUILD/artifacts"
for target in $TARGETS; do
  mkdir -p "$BUILD/corpus/$target"
  echo "fuzz: $target for ${seconds}s"
  "$BUILD/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$target-" -dict="$ROOT/tests/fuzz/http.dict" \
    "$BUILD/corpus/$target" "$ROOT/tests/fuzz/corpus/$target"
done
