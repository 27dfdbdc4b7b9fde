#!/bin/bash
# -run_step_timeout (issue 32 §3): one rank of a 2-rank pretrain hangs (SIGSTOP from outside while
# it holds at step 5, POF_TEST_RAISE=step:5:WAIT on that rank only, so the run cannot finish
# before the stop). The other rank's watchdog ends the job: status 69, one error line naming the
# phase and step, the JSON line with status lost_peer, no rank left (the stopped one too), the
# newest checkpoint complete; the rerun resumes from it and ends bitwise equal to an uninterrupted
# run. The uninterrupted run itself has the watchdog on and must not trip it.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1
workdir hang
/usr/bin/python3 "$src/tests/slurm/make_data.py" tiny.h5 1 16 16 4 128 32 > /dev/null || { bad "dataset"; finish; exit 1; }
# 8 steps per epoch, 2 epochs
PRE="-data_file tiny.h5 -model_depth 10 -model_width 1 -model_base 8 -opt_batch 16 -opt_lr 0.05 -opt_schedule cosine -run_epochs 2 -run_quiet -run_seed 3"
mpi() { local n="$1"; shift; timeout 120 "$MPIEXEC" --oversubscribe -n "$n" -x OMP_NUM_THREADS=1 "$pof" "$@"; }
. "$src/tests/resume/lib_proc.sh" # wait_file, wait_bg, no_orphans
json_field() { /usr/bin/python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])" "$1" "$2"; }
same() { # A B DESC
  if /usr/bin/python3 "$src/tests/resume/compare_models.py" "$1" "$2" > cmp.log 2>&1; then ok "$3: $(tail -1 cmp.log)"; else bad "$3"; cat cmp.log; fi
}
S=4
expect_rc 0 "uninterrupted 2-rank pretrain with -run_step_timeout $S (reference; the watchdog stays quiet)" \
  mpi 2 pretrain $PRE -run_dir ref -run_step_timeout $S
HK="$PRE -run_dir hk -ckpt_every_steps 3 -ckpt_keep 5 -run_step_timeout $S"
export POF_TEST_RAISE=
setsid "$MPIEXEC" --oversubscribe --mca btl_vader_backing_directory "$PWD" -x OMP_NUM_THREADS=1 \
  -n 1 "$pof" pretrain $HK : -n 1 env POF_TEST_RAISE=step:5:WAIT "$pof" pretrain $HK > hk.out 2> hk.err &
BG=$!
r1=""
if wait_file hk/ckpt-0000000003.h5; then
  for p in $(pgrep -P "$BG"); do grep -qz "^OMPI_COMM_WORLD_RANK=1$" "/proc/$p/environ" 2> /dev/null && r1=$p; done
  # stop it in the hold (its main thread in (clock_)nanosleep, x86-64 syscalls 230 and 35), so the
  # step where the other rank waits is known
  for _ in $(seq 600); do grep -qE "^(230|35) " "/proc/$r1/syscall" 2> /dev/null && break; sleep 0.05; done
fi
if [ -n "$r1" ] && kill -STOP "$r1"; then
  t0=$(date +%s.%N)
  ok "rank 1 (pid $r1) stopped with SIGSTOP"
else
  bad "no rank 1 to stop (checkpoint 3: $(ls hk 2>&1 | tr '\n' ' '))"
fi
wait_bg; rc=$?
[ -n "$r1" ] && echo "job ended $(echo "$(date +%s.%N) - $t0" | bc) s after the SIGSTOP (-run_step_timeout $S)"
[ $rc -eq 69 ] && ok "the job ended with 69 (a peer was lost)" || { bad "status $rc, want 69"; cat hk.out hk.err; }
errs=$(grep -c '^pof: error:' hk.err)
[ "$errs" = 1 ] && grep -qx "pof: error: no progress for $S s in training at step 5" hk.err \
  && ok "one error line, from rank 0: $(grep '^pof: error:' hk.err)" || { bad "$errs error lines"; cat hk.err; }
last=$(tail -1 hk.out)
[ "$(json_field hk.out status)" = lost_peer ] && [ "$(json_field hk.out command)" = pretrain ] \
  && ok "last stdout line: $last" || { bad "last stdout line: $last"; cat hk.out; }
sleep 0.5
no_orphans hk && ok "no rank left (the stopped one too)" || { bad "ranks left: $(pgrep -af -- '-run_dir hk')"; kill -9 -- -"$BG" $r1 2> /dev/null; }
[ "$(ls hk | grep -c '^ckpt-')" = 1 ] && [ -e hk/ckpt-0000000003.h5 ] && ! ls hk | grep -q "\.tmp\." \
  && ok "the newest checkpoint is that of step 3, no temporary file" || bad "checkpoints: $(ls hk | tr '\n' ' ')"
expect_rc 0 "the rerun finishes" mpi 2 pretrain $PRE -run_dir hk -ckpt_every_steps 3 -ckpt_keep 5
expect_out "resuming from hk/ckpt-0000000003.h5" "resumed from the checkpoint of step 3"
grep -q "corrupt" "$T_OUT" && bad "a checkpoint failed verification: $(grep corrupt "$T_OUT")" || ok "no checkpoint failed verification"
same ref/model.h5 hk/model.h5 "hang + 69 + resume vs uninterrupted"
finish
