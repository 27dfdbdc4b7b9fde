#!/bin/bash
# pof bench at 1, 2 and 4 ranks (train and PoF steps, tiny input): the JSON line's "exchange"
# object reports the gradient exchange: the bucket count (0 at 1 rank, ceil(parameters / 1M)
# otherwise), how many buckets were still open when backward ended (0..buckets), and the two
# waits, parts of comm_wait.
. "$(dirname "$0")/common.sh"
check() { # log, ranks, expected buckets
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
log, ranks, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
j = json.loads(open(log).read().strip().splitlines()[-1])
x = j["exchange"]
assert j["ranks"] == ranks, j
assert x["buckets"] == want, (x["buckets"], want)
assert 0 <= x["open_at_end"] <= want, j
assert x["grad_wait_ms"] >= 0 and x["param_gather_ms"] >= 0, j
assert x["grad_wait_ms"] + x["param_gather_ms"] <= j["ms_comm_wait"] + 0.01, j
# no ms_* key but the phases: scaling_report.py stacks every ms_* key as a phase
assert {k for k in j if k.startswith("ms_")} == {"ms_per_step", "ms_forward", "ms_backward", "ms_comm_wait", "ms_optimizer", "ms_weak_forward", "ms_pof_range"}, j
text = open(log).read()
assert ("bench: gradient exchange: %d bucket(s)" % want in text) == (ranks > 1), text
PY
}
TINY="-bench_input 1x8x8 -model_classes 10 -opt_batch 8 -bench_steps 2 -bench_warmup 1"
for n in 1 2 4; do
  for step in train pof; do
    # WRN-10-1: 77,562 parameters (1 bucket); WRN-16-4: 2,748,890 (3 buckets of about 1M floats)
    for m in "10 1 1" "16 4 3"; do
      set -- $m
      want=$([ $n -gt 1 ] && echo "$3" || echo 0)
      log=b-$n-$step-$1.log
      mpi $n bench -model_depth $1 -model_width $2 -bench_step $step $TINY -run_dir r-$n-$step-$1 > $log 2>&1 \
        && check $log $n $want && ok "WRN-$1-$2 $step step at $n rank(s): $want bucket(s), exchange figures consistent" \
        || { bad "WRN-$1-$2 $step step at $n rank(s)"; tail -5 $log; }
    done
  done
done
# SAM: two exchanges per step; open_at_end is per exchange, so still at most the bucket count
mpi 2 bench -model_depth 16 -model_width 4 -bench_step train -opt_kind sam $TINY -run_dir r-sam > b-sam.log 2>&1 \
  && check b-sam.log 2 3 && ok "SAM at 2 ranks: 3 buckets, exchange figures consistent" || { bad "SAM at 2 ranks"; tail -5 b-sam.log; }
finish
