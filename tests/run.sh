#!/bin/bash
# The whole test suite. Exit status 0 only when every test passed.
#   1. install missing Debian packages (jobs/setup.sh)
#   2. format check, build with warnings as errors, the libFuzzer targets (clang-14, build-fuzz;
#      the ctest fuzz_corpus runs them), ctest (every test has a timeout)
#   3. ASan+UBSan build of the fast tests (label "fast"), run under ctest with LeakSanitizer on
#      (tests/lsan.supp). That build compiles pof for x86-64-v3 (AVX2, no AVX-512), so
#      test_nn_avx2 there is the AVX2-node configuration.
# Takes no arguments. POF_TEST_SKIP_SANITIZE=1 skips step 3 (local iteration only).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
start=$(date +%s)
fail=0

./jobs/setup.sh || { echo "run.sh: setup failed"; exit 1; }

echo "== format check"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests -name '*.[ch]')
if ! clang-format --dry-run --Werror $files > /tmp/pof-format.log 2>&1; then
  head -20 /tmp/pof-format.log
  echo "run.sh: format check failed (run: clang-format -i \$(git ls-files '*.c' '*.h'))"
  fail=1
fi

echo "== build (warnings are errors)"
if ! POF_WERROR=ON POF_BUILD_DIR="$root/build-test" ./jobs/build.sh; then
  echo "run.sh: build failed"; exit 1
fi

echo "== fuzz targets (clang-14, libFuzzer + ASan + UBSan: tests/fuzz)"
./tests/fuzz/build.sh "$root/build-fuzz" || fail=1

echo "== tests"
# two at a time on the 2 cores; tests/CMakeLists.txt marks those that need both (PROCESSORS 2)
(cd build-test && ctest --output-on-failure --timeout 600 -j 2 | tee ctest.log) || fail=1
# the many-node tests (label cluster) skip (status 77) only where network namespaces cannot be made
ran=$(grep -cE 'Test +#[0-9]+: cluster_[a-z_]+ .*(Passed|Failed|Timeout|Exception)' build-test/ctest.log)
skipped=$(grep -cE 'Test +#[0-9]+: cluster_[a-z_]+ .*Skipped' build-test/ctest.log)
echo "== cluster tests: $ran ran, $skipped skipped"

if [ "${POF_TEST_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== ASan+UBSan build, fast tests"
  if POF_ARCH=x86-64-v3 POF_WERROR=ON POF_SANITIZE=ON POF_BUILD_DIR="$root/build-asan" ./jobs/build.sh; then
    # with LeakSanitizer: a leak fails the test unless tests/lsan.supp names the third-party
    # library that made it (docs/testing.md, "Leaks"). symbolize=0: suppressions match module
    # names, and symbolizing at every exit cost 2/3 more CPU; reports show module+offset (rerun
    # a failing test without it for names)
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=0 \
       LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0" \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       ctest --output-on-failure --timeout 600 -j 2 -L fast) || fail=1
  else
    echo "run.sh: sanitizer build failed"; fail=1
  fi
fi

echo "== suite took $(( $(date +%s) - start )) s"
if [ $fail -ne 0 ]; then echo "run.sh: FAILED"; exit 1; fi
echo "run.sh: all tests passed"
