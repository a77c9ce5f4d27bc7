#!/bin/sh
# Builds subcorn as it was at COMMIT into DIR, for a "before and after" run of
# the harness in one go (run inside the project's environment):
#   ./dev run sh bench/base.sh HEAD~3 /tmp/subcorn-base
#   BENCH_SUBCORN_BASE=/tmp/subcorn-base ./dev bench --scenarios hello \
#       --servers subcorn,subcorn-base,granian,uvicorn
# DIR gets python/ (the package) and ext/ (the extension, built Release).
set -eu
[ $# -eq 2 ] || { echo "usage: sh bench/base.sh COMMIT DIR" >&2; exit 2; }
commit=$1
out=$2
rm -rf "$out"
mkdir -p "$out/src"
git -c safe.directory='*' archive "$commit" | tar -x -C "$out/src"
cmake -S "$out/src" -B "$out/ext" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$out/ext" >/dev/null
cp -r "$out/src/python" "$out/python"
echo "bench/base.sh: subcorn at $(git -c safe.directory='*' rev-parse --short "$commit") in $out"
