#!/bin/bash
# Configure and build pof into ${POF_BUILD_DIR:-<repo>/build}. Environment knobs:
# POF_WERROR=ON (warnings are errors, as in CI), POF_SANITIZE=ON (ASan+UBSan), POF_ARCH=<-march>
# (default native; e.g. x86-64-v3 for AVX2 compute nodes when building on another kind of node).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${POF_BUILD_DIR:-$root/build}"
mkdir -p "$build"
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOF_WERROR="${POF_WERROR:-OFF}" \
     -DPOF_SANITIZE="${POF_SANITIZE:-OFF}" ${POF_ARCH+"-DPOF_ARCH=$POF_ARCH"} > "$build/configure.log" 2>&1; then
  cat "$build/configure.log"; echo "build: cmake configure failed" >&2; exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" > "$build/build.log" 2>&1; then
  grep -E "error|Error" "$build/build.log" | head -50 || true
  echo "build: compilation failed (full log: $build/build.log)" >&2; exit 1
fi
grep -E "warning:" "$build/build.log" | head -20 || true
echo "build: ok ($build/pof)"
