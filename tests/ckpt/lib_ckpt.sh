# Helpers of the checkpoint tests. Usage: source after setting T (ckpt_tool) and MPIEXEC.
# pof's ranks leave through MPI_Finalize even on an error; mpiexec then still waits its SIGTERM->SIGKILL
# grace (odls_base_sigkill_timeout, 1 s) before reporting the non-zero exit: not needed here
export OMPI_MCA_odls_base_sigkill_timeout=0
source "$(dirname "${BASH_SOURCE[0]}")/../shell/lib.sh"
# mpi N ARGS... : run ckpt_tool at N ranks (60 s limit), output in $T_OUT, status in $RC
mpi() {
  local n="$1"; shift
  timeout 60 "$MPIEXEC" --oversubscribe -n "$n" "$T" "$@" > "$T_OUT" 2>&1; RC=$?
}
# pass N DESC PATTERN ARGS... : must exit 0 and print PATTERN
pass() {
  local n="$1" desc="$2" pat="$3"; shift 3
  mpi "$n" "$@"
  if [ $RC -eq 0 ] && grep -qE -- "$pat" "$T_OUT"; then ok "$desc"; else bad "$desc (rc=$RC)"; cat "$T_OUT"; fi
}
# fail N DESC PATTERN ARGS... : must exit non-zero without hanging, with exactly one
# "pof: error:" line that matches PATTERN and no sanitizer report (a leak on the error path)
fail() {
  local n="$1" desc="$2" pat="$3"; shift 3
  mpi "$n" "$@"
  local msgs; msgs=$(grep -c "^pof: error:" "$T_OUT")
  if [ $RC -eq 124 ]; then bad "$desc: hang (killed after 60 s)"
  elif [ $RC -eq 0 ]; then bad "$desc: exit 0"; cat "$T_OUT"
  elif [ "$msgs" -ne 1 ]; then bad "$desc: $msgs error lines"; cat "$T_OUT"
  elif ! grep "^pof: error:" "$T_OUT" | grep -qE -- "$pat"; then bad "$desc: message does not match /$pat/"; grep "^pof: error:" "$T_OUT"
  elif grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T_OUT"; then bad "$desc: sanitizer report"; cat "$T_OUT"
  else ok "$desc (rc=$RC): $(grep '^pof: error:' "$T_OUT" | cut -c1-200)"; fi
}
# ckpt_workdir: cd into a fresh work directory $W; ckpt_finish: summary line, and the work
# directory is removed when every check passed (kept for inspection otherwise).
ckpt_workdir() { W="$(mktemp -d /tmp/pof-ckpt-test.XXXXXX)"; cd "$W" || exit 1; echo "work dir: $W"; }
ckpt_finish() {
  finish; local rc=$?
  if [ $rc -eq 0 ]; then cd / && rm -rf "$W"; fi
  return $rc
}
