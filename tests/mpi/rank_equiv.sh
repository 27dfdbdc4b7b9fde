#!/bin/bash
# Rank-count equivalence of training steps (SGD, SAM, PoF global) at 1, 2 and 4 ranks, and the
# negative controls that must fail the same comparison: per-rank BN at 2 ranks, an
# unsynchronized gradient exchange, and PoF local mode at 2 ranks.
set -uo pipefail
exe="$1"; src="$2"
. "$src/tests/shell/lib.sh"
workdir rank-equiv
run() { # name ranks args...
  local name="$1" n="$2"; shift 2
  timeout 120 "$MPIEXEC" --oversubscribe -n "$n" "$exe" -out "$name.bin" "$@" > "$name.log" 2>&1 || { cat "$name.log"; return 1; }
}
cmp() { /usr/bin/python3 "$src/tests/mpi/compare_updates.py" "$@"; }
TOL=2e-4
for mode in sgd sam pof_global; do
  run "$mode-1" 1 -mode $mode || bad "$mode at 1 rank ran"
  for n in 2 4; do
    run "$mode-$n" $n -mode $mode -bucket 3000 || { bad "$mode at $n ranks ran"; continue; }
    out=$(cmp "$mode-1.bin" "$mode-$n.bin" $TOL) && ok "$mode: $n ranks = 1 rank: $out" || bad "$mode: $n ranks vs 1 rank: $out"
  done
done
run bnlocal-2 2 -mode sgd -bn_sync 0 && { out=$(cmp sgd-1.bin bnlocal-2.bin $TOL --expect-differ) && ok "per-rank BN at 2 ranks differs: $out" || bad "per-rank BN control did not differ: $out"; } || bad "per-rank BN run"
run unsync-2 2 -mode sgd -unsync && { out=$(cmp sgd-1.bin unsync-2.bin $TOL --expect-differ) && ok "unsynchronized exchange differs: $out" || bad "unsynchronized control did not differ: $out"; } || bad "unsync run"
run local-2 2 -mode pof_local && { out=$(cmp pof_global-1.bin local-2.bin $TOL --expect-differ) && ok "PoF local mode at 2 ranks differs: $out" || bad "PoF local control did not differ: $out"; } || bad "local run"
finish
