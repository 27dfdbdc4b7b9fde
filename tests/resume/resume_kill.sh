#!/bin/bash
# kill -9 of the whole job (mpiexec's process group and its rank processes, which Open MPI puts
# in process groups of their own, as a batch system kills a job's cgroup) mid-epoch of a 2-rank pretrain and of a 2-rank posttrain
# (PoF, global mode), then resume from the newest complete checkpoint: the final parameters,
# momentum and BN statistics are bitwise identical to uninterrupted runs, and so are the rows of
# metrics.jsonl and steps.jsonl (timings removed).
# Last: a second job on a run directory in use is refused (the run directory lock).
. "$(dirname "$0")/lib_resume.sh"
POST="-data_file tiny.h5 -run_epochs 3 -run_quiet -run_seed 5 -opt_batch 32 -pof_weak_batch 32 -pof_partitions 4 -opt_lr 0.02 -run_step_log"
rows_same() { # A B DESC
  if "$R/compare_rows.py" "$1" "$2" > rows.log 2>&1; then ok "$3: $(cat rows.log)"; else bad "$3: $(cat rows.log)"; fi
}
expect_rc 0 "uninterrupted 2-rank pretrain (reference)" mpi 2 pretrain $PRE -run_dir ref
expect_rc 0 "uninterrupted 2-rank posttrain (reference)" mpi 2 posttrain $POST -model_in ref/model.h5 -run_dir pref

# kill_run NAME WAITFILE ARGS... : start a 2-rank run, kill -9 mpiexec's group and its ranks once WAITFILE exists
kill_run() {
  local name="$1" wf="$2"; shift 2
  start_bg "$name.log" 2 "$@"
  if wait_file "$wf"; then
    sleep 0.1
    local ranks; ranks=$(pgrep -P "$BG" | tr '\n' ' ')
    kill -9 -- -"$BG" $ranks
  else bad "$name: no $wf"; cat "$name.log"; fi
  wait "$BG" 2> /dev/null; local rc=$?
  [ $rc -eq 137 ] && ok "$name: killed with -9 (rc $rc)" || bad "$name: rc $rc (finished before the kill?)"
  sleep 0.5
  no_orphans "$name" && ok "$name: no rank survived" || bad "$name: ranks survived the kill"
}
kill_run pk pk/ckpt-0000000003.h5 pretrain $PRE -run_dir pk -ckpt_every_steps 3 -ckpt_keep 5
[ ! -e pk/model.h5 ] && ok "pretrain killed before the end" || bad "pretrain finished before the kill"
echo "left behind: $(ls pk | tr '\n' ' ')"
expect_rc 0 "pretrain resumes after kill -9" mpi 2 pretrain $PRE -run_dir pk -ckpt_every_steps 3 -ckpt_keep 5
expect_out "resuming from pk/ckpt-" "resumed from a checkpoint"
grep -o "resuming from [^ ]* ([^)]*)" "$T_OUT"
same ref/model.h5 pk/model.h5 "pretrain: kill -9 + resume vs uninterrupted"
rows_same ref/metrics.jsonl pk/metrics.jsonl "pretrain: metrics.jsonl after kill -9 + resume"
ls pk | grep -q "\.tmp\." && bad "stale temporary left: $(ls pk)" || ok "no temporary file left"

# 3 epochs = PoF steps 17..40, 22 of them after the checkpoint at 18 (with 1 epoch only 6 were left and an idle machine finished the run
# between the checkpoint and the kill)
kill_run qk qk/ckpt-0000000018.h5 posttrain $POST -model_in ref/model.h5 -run_dir qk -ckpt_every_steps 3
[ ! -e qk/model.h5 ] && ok "posttrain killed before the end" || bad "posttrain finished before the kill"
expect_rc 0 "posttrain resumes after kill -9" mpi 2 posttrain $POST -model_in ref/model.h5 -run_dir qk -ckpt_every_steps 3
expect_out "resuming from qk/ckpt-" "resumed from a checkpoint"
grep -o "resuming from [^ ]* ([^)]*)" "$T_OUT"
same pref/model.h5 qk/model.h5 "posttrain: kill -9 + resume vs uninterrupted (θ0 included)"
rows_same pref/metrics.jsonl qk/metrics.jsonl "posttrain: metrics.jsonl after kill -9 + resume"
rows_same pref/steps.jsonl qk/steps.jsonl "posttrain: steps.jsonl after kill -9 + resume"
# One job per run directory: a second job on a directory in use is refused (its holder named) and
# damages nothing. The first job holds at step 3 until its stop signal (POF_TEST_RAISE=step:3:WAIT;
# a run of this size ends in under a second, so without the hold it could end before the second
# job tries), stops with 75, and its rerun ends as if it had run alone.
POF_TEST_RAISE=step:3:WAIT start_bg lk.log 2 pretrain $PRE -run_dir lk
for _ in $(seq 600); do grep -q "^pid " lk/.pof-lock 2> /dev/null && break; sleep 0.1; done
expect_rc nonzero "second job on a run directory in use refused" mpi 2 pretrain $PRE -run_dir lk
[ "$(grep -c '^pof: error:' "$T_OUT")" = 1 ] && grep -qE "^pof: error: run directory lk is in use by another pof job \(pid [0-9]+ host " "$T_OUT" \
  && ok "one error naming the directory and the holder: $(grep '^pof: error:' "$T_OUT" | cut -c1-110)" || { bad "lock message"; cat "$T_OUT"; }
kill -USR1 "$BG"
wait_bg; rc=$?
[ $rc -eq 75 ] && ok "first job stopped on its signal (75)" || { bad "first job: status $rc"; cat lk.log; }
expect_rc 0 "the first job's rerun resumes (its lock was released at exit)" mpi 2 pretrain $PRE -run_dir lk
same ref/model.h5 lk/model.h5 "the job that held the directory: same result as alone"
expect_rc 0 "lock released at exit (a rerun finds the run finished)" mpi 2 pretrain $PRE -run_dir lk
resume_finish
