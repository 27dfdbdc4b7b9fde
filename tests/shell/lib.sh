# Helpers for shell tests: counts passes/failures and prints the closing "N passed, N failed".
T_PASS=0; T_FAIL=0
ok()   { echo "ok   $*"; T_PASS=$((T_PASS+1)); }
bad()  { echo "FAIL $*"; T_FAIL=$((T_FAIL+1)); }
# expect_rc WANT DESC cmd... : run cmd (stdout+stderr to $T_OUT), check exit status
T_OUT=$(mktemp); trap 'rm -f "$T_OUT"' EXIT # workdir (below) and the Slurm harness replace this trap and remove it too
expect_rc() {
  local want="$1" desc="$2"; shift 2
  "$@" > "$T_OUT" 2>&1; local rc=$?
  if [ "$want" = nonzero ]; then [ $rc -ne 0 ] && ok "$desc (rc=$rc)" || { bad "$desc: rc=$rc"; cat "$T_OUT"; }
  else [ $rc -eq "$want" ] && ok "$desc" || { bad "$desc: rc=$rc, want $want"; cat "$T_OUT"; }; fi
}
expect_out() { # PATTERN DESC : last command's output matches
  grep -qE -- "$1" "$T_OUT" && ok "$2" || { bad "$2: no /$1/ in output"; cat "$T_OUT"; }
}
finish() { echo "$T_PASS passed, $T_FAIL failed"; [ $T_FAIL -eq 0 ]; }
# workdir NAME : cd into a fresh /tmp/pof-NAME.XXXXXX ($T_WORK); at exit it is removed when the
# script exits 0, kept (path printed) when it failed or POF_TEST_KEEP=1 is set
workdir() {
  T_WORK=$(mktemp -d "/tmp/pof-$1.XXXXXX") && cd "$T_WORK" || exit 1
  trap '_rc=$?; cd /; rm -f "$T_OUT"; if [ $_rc -eq 0 ] && [ "${POF_TEST_KEEP:-0}" != 1 ]; then rm -rf "$T_WORK"; else echo "work dir kept: $T_WORK"; fi; exit $_rc' EXIT
}
