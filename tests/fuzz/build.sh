#!/bin/bash
# Configure (once) and build the fuzz targets into DIR (default <repo>/build-fuzz): clang-14,
# -DPOF_FUZZ=ON, only the target pof_fuzzers (the core, comm, io and nn libraries and the nine
# fuzz_* programs, not pof). Log in DIR/build.log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${1:-$root/build-fuzz}"
mkdir -p "$dir"
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$dir" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DPOF_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > "$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; echo "fuzz build: configure failed" >&2; exit 1; }
fi
if ! cmake --build "$dir" --target pof_fuzzers -j "$(nproc)" > "$dir/build.log" 2>&1; then
  grep -E "error" "$dir/build.log" | head -30
  echo "fuzz build: failed (log: $dir/build.log)" >&2; exit 1
fi
echo "fuzz build: ok ($dir)"
