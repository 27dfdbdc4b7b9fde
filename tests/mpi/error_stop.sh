#!/bin/bash
# At 1, 2 and 4 ranks: an error on the last rank (and a collective error) stops every rank
# with exit status 1, one "pof: error:" line, well inside the timeout.
set -uo pipefail
exe="$1"
fails=0
check() { # ranks args...
  local n="$1"; shift
  local t0=$(date +%s)
  timeout 60 "$MPIEXEC" --oversubscribe -n "$n" "$exe" "$@" > out.txt 2> err.txt
  local rc=$? dt=$(( $(date +%s) - t0 ))
  local msgs=$(grep -c "^pof: error:" err.txt)
  if [ "$rc" -eq 124 ]; then echo "FAIL n=$n $*: hang (killed by timeout)"; fails=$((fails+1));
  elif [ "$rc" -eq 0 ]; then echo "FAIL n=$n $*: exit 0"; fails=$((fails+1));
  elif [ "$msgs" -ne 1 ]; then echo "FAIL n=$n $*: $msgs error messages"; cat err.txt; fails=$((fails+1));
  else echo "ok   n=$n $*: rc=$rc, ${dt}s, message: $(grep '^pof: error:' err.txt)"; fi
}
. "$(dirname "$0")/../shell/lib.sh"
workdir error-stop
for n in 1 2 4; do
  check $n -fail_rank $((n-1))
  check $n -fail_all
done
timeout 60 "$MPIEXEC" --oversubscribe -n 2 "$exe" > out.txt 2>&1 && grep -q "no failure" out.txt \
  && echo "ok   n=2 no failure requested: rc=0" || { echo "FAIL: run without failure"; fails=$((fails+1)); }
echo "$((7 - fails)) passed, $fails failed"
[ $fails -eq 0 ]
