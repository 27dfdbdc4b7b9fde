#!/bin/bash
# The suite's fuzz test (ctest fuzz_corpus): every target of the fuzz build (tests/run.sh makes it,
# cmake -DPOF_FUZZ=ON, see docs/testing.md) runs over its committed corpus, then over a bounded
# number of new inputs from a fixed seed (the HDF5 targets with structure-aware mutations only).
# Two targets at a time. Fails when a target crashes, leaks a descriptor, times out or is missing.
# Usage: run_corpus.sh FUZZ_BUILD_DIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$(cd "$1" && pwd)" || exit 1
. "$here/targets.sh"
export POF_FUZZ_STRUCT_ONLY=1
work="$(mktemp -d /tmp/pof-fuzz-suite.XXXXXX)"
trap 'rm -rf "$work"; fuzz_clean_shm' EXIT
runs() { case "$1" in json) echo 600 ;; cifar) echo 40 ;; dataset | model | ckpt | info) echo 60 ;; *) echo 100 ;; esac; }
one() {
  local t="$1" exe="$bin/fuzz_$1"
  [ -x "$exe" ] || { echo "fuzz_corpus: $exe missing (build: cmake -DPOF_FUZZ=ON, target pof_fuzzers)"; return 1; }
  mkdir -p "$work/$t" "$work/art-$t"
  # new inputs go to a scratch corpus: the committed one is only read
  if (cd "$work/art-$t" && "$exe" $(fuzz_opts "$t") $POF_FUZZ_LIMITS -seed=1 -runs="$(runs "$t")" \
        -max_total_time=8 -print_final_stats=1 "$work/$t" "$here/corpus/$t" > "$work/$t.log" 2>&1); then
    echo "fuzz_corpus: $t ok: $(grep -E '^stat::number_of_executed_units' "$work/$t.log" | awk '{print $2}') inputs, $(grep -oE 'cov: [0-9]+' "$work/$t.log" | tail -1)"
  else
    echo "fuzz_corpus: $t FAILED"; grep -vE '^ *#[0-9]+ |^INFO' "$work/$t.log" | head -60
    ls "$work/art-$t"; return 1
  fi
}
export -f one runs fuzz_opts; export bin here work POF_FUZZ_LIMITS
printf '%s\n' $POF_FUZZ_RAW $POF_FUZZ_H5 | xargs -P 2 -I{} bash -c 'one {}'
