#!/bin/sh
# Builds the libFuzzer targets with clang and runs each for SECONDS (default
# 20): the smoke run CI does. Run inside the project environment, e.g.
#   SUBCORN_NO_BUILD=1 ./dev run sh tests/fuzz/run.sh 60
# New inputs go to build/fuzz/corpus/<target>; the seeds in tests/fuzz/corpus
# are only read. Crashes are written to build/fuzz/artifacts/.
set -eu
SECONDS_PER_TARGET=${1:-20}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build/fuzz
TARGETS="fuzz_request_parser"

GENERATOR=
command -v ninja >/dev/null 2>&1 && GENERATOR="-G Ninja"
# shellcheck disable=SC2086  # GENERATOR is two words or none
cmake -S "$ROOT" -B "$BUILD" $GENERATOR -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSUBCORN_EXTENSION=OFF -DSUBCORN_FUZZ=ON >/dev/null
cmake --build "$BUILD"

mkdir -p "$BUILD/artifacts"
for target in $TARGETS; do
  mkdir -p "$BUILD/corpus/$target"
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  "$BUILD/tests/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$target-" -dict="$ROOT/tests/fuzz/http.dict" \
    "$BUILD/corpus/$target" "$ROOT/tests/fuzz/corpus"
done
