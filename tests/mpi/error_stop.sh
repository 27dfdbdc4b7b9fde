#!/bin/bash
# The error contract (DESIGN.md "Exit statuses and error output") at 1, 2 and 4 ranks:
#  - an error every rank sees (a collective check) prints exactly one "pof: error:" line, on
#    rank 0, without rank prefix, exits 1 on every rank through MPI_Finalize (no MPI_ABORT
#    banner), and the last stdout line is {"status":"error","message":...};
#  - an error only one rank sees while the others wait in a collective: that rank's line, with
#    "[rank R on HOST]", exit 1 after the bounded wait (POF_ERROR_AGREE_SECONDS=2 here), no hang;
#  - an error only one rank sees while the others finish: its line with rank and host, exit 1
#    through MPI_Finalize, rank 0's JSON line carries that rank's message;
#  - with POF_ERROR_TRACE=1 the frames follow the message; without it no location is printed.
# pof's ranks leave through MPI_Finalize even on an error; mpiexec then still waits its SIGTERM->SIGKILL
# grace (odls_base_sigkill_timeout, 1 s) before reporting the non-zero exit: not needed here
export OMPI_MCA_odls_base_sigkill_timeout=0
set -uo pipefail
exe="$1"
. "$(dirname "$0")/../shell/lib.sh"
workdir error-stop
export POF_ERROR_AGREE_SECONDS=2
run() { # ranks args... : out.txt, err.txt, RC, DT
  local n="$1"; shift
  local t0=$(date +%s)
  timeout 60 "$MPIEXEC" --oversubscribe -n "$n" "$exe" "$@" > out.txt 2> err.txt
  RC=$?; DT=$(( $(date +%s) - t0 ))
}
lines() { grep -c "^pof: error:" err.txt; }
for n in 1 2 4; do
  run $n -fail_all
  if [ $RC -eq 1 ] && [ "$(lines)" = 1 ] && grep -q "^pof: error: collective failure requested on all $n ranks$" err.txt \
     && ! grep -q "MPI_ABORT was invoked" err.txt && ! grep -q " at .*error_stop.c" err.txt \
     && [ "$(tail -1 out.txt)" = "{\"status\":\"error\",\"message\":\"collective failure requested on all $n ranks\"}" ]; then
    ok "n=$n every rank fails: one line, exit 1 via MPI_Finalize, JSON line last (${DT}s)"
  else bad "n=$n -fail_all: rc=$RC, $(lines) lines"; cat err.txt out.txt; fi
  r=$((n - 1))
  run $n -fail_rank $r
  want="^pof: error: \[rank $r on $(hostname)\] rank $r cannot open 'missing.h5'$"
  if [ $n -eq 1 ]; then want="^pof: error: rank 0 cannot open 'missing.h5'$"; fi
  if [ $RC -eq 1 ] && [ "$(lines)" = 1 ] && grep -qE "$want" err.txt && [ $DT -lt 30 ]; then
    ok "n=$n rank $r fails while the others wait: its line, exit $RC after ${DT}s"
  else bad "n=$n -fail_rank $r: rc=$RC, $(lines) lines, ${DT}s"; cat err.txt; fi
done
run 2 -fail_rank 1 -fail_late
if [ $RC -eq 1 ] && [ "$(lines)" = 1 ] && grep -qE "^pof: error: \[rank 1 on $(hostname)\] rank 1 fails after the last collective$" err.txt \
   && ! grep -q "MPI_ABORT was invoked" err.txt && grep -q '"message":"rank 1 fails after the last collective"' out.txt; then
  ok "n=2 rank 1 fails after the others finished: its line, exit 1 via MPI_Finalize, rank 0's JSON names it"
else bad "-fail_late: rc=$RC"; cat err.txt out.txt; fi
POF_ERROR_TRACE=1 run 2 -fail_all
[ $RC -eq 1 ] && grep -q "^pof: error trace" err.txt && grep -q "run() at .*error_stop.c" err.txt && ok "POF_ERROR_TRACE=1: frames printed" || { bad "trace"; cat err.txt; }
run 2
[ $RC -eq 0 ] && grep -q "no failure" out.txt && ok "n=2 no failure requested: rc=0" || { bad "run without failure: rc=$RC"; cat err.txt; }
finish
