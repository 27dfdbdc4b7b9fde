# Process helpers of the resume tests (sourced by lib_resume.sh and resume_hang.sh): wait for a
# file, for the background job $BG, and check that no rank of a run directory is left.
# wait_file F : until F exists (60 s at most); status 1 on timeout
wait_file() { for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
# wait_bg : status of $BG (killed with its group after 120 s). A polling loop, not a background
# "sleep 120; kill" watchdog: killing such a subshell leaves its sleep holding the test's output
# pipe, and ctest then waits the full 120 s for the pipe to close.
wait_bg() {
  local t=0
  while kill -0 "$BG" 2> /dev/null && [ $t -lt 1200 ]; do sleep 0.1; t=$((t + 1)); done
  kill -0 "$BG" 2> /dev/null && kill -9 -- -"$BG" 2> /dev/null
  wait "$BG"
}
# no_orphans DIR : no process still has DIR in its command line (the ranks died with mpiexec)
no_orphans() { ! pgrep -f -- "-run_dir $1( |$)" > /dev/null; }
