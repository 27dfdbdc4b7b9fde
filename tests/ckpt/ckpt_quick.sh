#!/bin/bash
# Fast subset of the checkpoint tests (also run under ASan+UBSan): write at 2 ranks in small
# pieces, read at 4 ranks with rank 0 owning nothing, refuse a truncated copy, and let
# find_latest fall back from it to the complete one.
set -uo pipefail
T="$1"
source "$2/tests/ckpt/lib_ckpt.sh"
ckpt_workdir
mkdir run
pass 2 "write at 2 ranks, -chunk 13" "written" -mode write -path run/ckpt-0000000001.h5 -chunk 13 -step 1
pass 4 "read at 4 ranks, uneven, -chunk 5: bitwise equal" "roundtrip ok" -mode read -path run/ckpt-0000000001.h5 -uneven -chunk 5 -step 1
cp run/ckpt-0000000001.h5 run/ckpt-0000000002.h5
truncate -s $(( $(stat -c %s run/ckpt-0000000002.h5) / 2 )) run/ckpt-0000000002.h5
fail 2 "truncated copy refused" "checkpoint run/ckpt-0000000002.h5 is truncated or damaged" -mode meta -path run/ckpt-0000000002.h5
pass 2 "find_latest falls back to the complete file" "^found run/ckpt-0000000001\.h5$" -mode latest -dir run
grep -q "pof: warning: checkpoint run/ckpt-0000000002.h5 failed verification (checkpoint run/ckpt-0000000002.h5 is truncated" "$T_OUT" && [ -e run/ckpt-0000000002.h5.corrupt ] \
  && ok "the truncated file reported and set aside as .corrupt" || { bad "not reported or not set aside"; cat "$T_OUT"; ls run; }
ckpt_finish
