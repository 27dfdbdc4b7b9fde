#!/bin/bash
# SIGUSR1 to mpiexec mid-epoch of a 2-rank pretrain: every rank finishes the step, a checkpoint
# is written, exit status 75; the rerun resumes and ends bitwise identical to an uninterrupted
# run. Also: a stop on the last step of an epoch (checkpoint at the boundary), SIGTERM reaching
# the ranks, a rerun of a finished directory, -ckpt_resume no on a directory with checkpoints.
. "$(dirname "$0")/lib_resume.sh"
expect_rc 0 "uninterrupted 2-rank pretrain (reference)" mpi 2 pretrain $PRE -run_dir ref
expect_out '"status":"finished"' "summary status finished"

# SIGUSR1 to mpiexec after the periodic checkpoint of step 1, while the ranks hold at the end of
# step 2 (before its stop agreement) until the signal arrives: a whole run takes under a second,
# so without the hold the signal could land after the run or the checkpoint could already be
# rotated away
POF_TEST_RAISE=step:2:WAIT start_bg sig.log 2 pretrain $PRE -run_dir sig -ckpt_every_steps 1
if wait_file sig/ckpt-0000000001.h5; then kill -USR1 "$BG"; else bad "no checkpoint at step 1"; fi
wait_bg; rc=$?
[ $rc -eq 75 ] && ok "SIGUSR1 to mpiexec: exit status 75" || { bad "SIGUSR1: rc=$rc"; cat sig.log; }
grep -q "stopped on SIGUSR1 after global step" sig.log && grep -q '"status":"stopped"' sig.log && ok "stop reported: $(grep -o 'stopped on SIGUSR1 after global step [0-9]* ([^)]*)' sig.log)" || { bad "stop message"; cat sig.log; }
last=$(ls sig/ckpt-*.h5 | tail -1)
step=$(attr "$last" global_step); sie=$(attr "$last" step_in_epoch)
[ "$step" = 2 ] && [ "$sie" -gt 0 ] && ok "checkpoint $last mid-epoch (global step $step, step $sie of the epoch)" || bad "checkpoint $last: step $step, step_in_epoch $sie"
[ ! -e sig/model.h5 ] && ok "no model.h5 for a stopped run" || bad "model.h5 written by a stopped run"
expect_rc 0 "rerun resumes" mpi 2 pretrain $PRE -run_dir sig -ckpt_every_steps 1
expect_out "resuming from $last" "resumed from the signal checkpoint"
same ref/model.h5 sig/model.h5 "SIGUSR1 + resume vs uninterrupted"

# stop on the last step of epoch 1 (test hook): the epoch is evaluated and logged, checkpoint at the boundary
POF_TEST_RAISE=step:8 expect_rc 75 "stop requested on the last step of epoch 1 (step 8): exit 75" mpi 2 pretrain $PRE -run_dir edge -ckpt_every_epochs 0
[ -f edge/ckpt-0000000008.h5 ] && [ "$(attr edge/ckpt-0000000008.h5 epochs_done)" = 1 ] && [ "$(attr edge/ckpt-0000000008.h5 step_in_epoch)" = 0 ] && ok "boundary checkpoint ckpt-0000000008.h5 (epoch 1 done)" || { bad "boundary checkpoint"; ls edge; }
[ "$(wc -l < edge/metrics.jsonl)" = 1 ] && ok "epoch 1 logged before stopping" || bad "metrics.jsonl: $(wc -l < edge/metrics.jsonl) lines"
expect_rc 0 "resume from the boundary" mpi 2 pretrain $PRE -run_dir edge -ckpt_every_epochs 0
same ref/model.h5 edge/model.h5 "boundary stop + resume vs uninterrupted"

# SIGTERM reaching the ranks (test hook raises it on rank 0 at step 5): handled like SIGUSR1
POF_TEST_RAISE=step:5:TERM expect_rc 75 "SIGTERM on a rank: exit 75" mpi 2 pretrain $PRE -run_dir term
expect_out "stopped on SIGTERM after global step 5 " "SIGTERM stop at step 5"
[ "$(attr term/ckpt-0000000005.h5 step_in_epoch)" = 5 ] && ok "SIGTERM checkpoint at step 5 of the epoch" || { bad "no SIGTERM checkpoint"; ls term; }

# the finished directory: model.h5 is the final checkpoint; a rerun trains nothing
[ ref/model.h5 -ef "ref/ckpt-0000000016.h5" ] && ok "model.h5 is a hard link of the final checkpoint" || { bad "model.h5 vs final checkpoint"; ls -li ref; }
cp ref/metrics.jsonl metrics.before
expect_rc 0 "rerun of a finished directory: exit 0" mpi 2 pretrain $PRE -run_dir ref
expect_out "run directory ref already finished" "says already finished"
expect_out '"status":"already_finished"' "summary status already_finished"
cmp -s metrics.before ref/metrics.jsonl && ! grep -q "epoch 1/2" "$T_OUT" && ok "nothing trained, metrics untouched" || bad "rerun trained"
expect_rc 1 "-ckpt_resume no on a directory with checkpoints: refused" mpi 2 pretrain $PRE -run_dir ref -ckpt_resume no
expect_out "pof: error: -ckpt_resume no, but the run directory 'ref' already holds checkpoints \(ckpt-0000000016.h5\)" "refusal names the directory and checkpoint"
same ref/model.h5 sig/model.h5 "model untouched by the refused run"
no_orphans sig && ok "no process left" || bad "processes left"
resume_finish
