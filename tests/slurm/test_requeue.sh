#!/bin/bash
# The pre-timeout signal through Slurm: a 2-rank pretrain job gets `scancel --signal=USR1 --batch`
# mid-run; the batch shell forwards USR1 to mpirun, pof finishes the step, writes a checkpoint and
# exits 75, the script requeues the job; the requeued job (held until its begin time, released
# with `scontrol update StartTime=now`) resumes from the checkpoint and finishes. Checks: restart
# count >= 1, the second run started from a step > 0, the final parameters (and momentum, BN
# statistics) bitwise equal to an uninterrupted run's; resubmitting the finished run directory
# exits 0 with "already finished".
. "$(dirname "$0")/common.sh"
tiny d.h5 1 32 32 10 256 32
# 16 steps per epoch, 256 in all (about 3 s after the signal point: with 64 steps of 16x16 images
# the run could end before the forwarded USR1 reached the ranks); a checkpoint every 4 steps shows
# how far the run is
OPTS=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16 -run_epochs 16 -opt_milestones 2 -run_seed 7 -ckpt_every_steps 4)
submit -n 2 -o job-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir run && ok "pretrain.sbatch submitted (job $JOB)" || bad "sbatch"
id=$JOB
# signal in the middle of epoch 2 (once the checkpoint of global step 20 exists)
t0=$SECONDS
past20() { ls run/ckpt-*.h5 2> /dev/null | sed -n 's/.*ckpt-0*\([0-9][0-9]*\)\.h5$/\1/p' | awk '$1 >= 20 { f = 1 } END { exit !f }'; }
until past20 || [ $((SECONDS - t0)) -gt 90 ]; do sleep 0.1; done
if [ "$(slurm_job_field "$id" JobState)" = RUNNING ] && past20; then
  scancel --signal=USR1 --batch "$id" && ok "scancel --signal=USR1 --batch in epoch 2 (after global step 20)" || bad "scancel --signal=USR1"
else
  bad "job not running with epoch 1 done (state $(slurm_job_field "$id" JobState))"; cat job-$id.out
fi
# the job requeues itself: wait until it is pending again with a restart recorded, then release it
t0=$SECONDS
until { [ "$(slurm_job_field "$id" JobState)" = PENDING ] && [ "$(slurm_job_field "$id" Restarts)" -ge 1 ]; } || [ $((SECONDS - t0)) -gt 60 ]; do sleep 0.3; done
restarts=$(slurm_job_field "$id" Restarts)
[ "$(slurm_job_field "$id" JobState)" = PENDING ] && ok "requeued: pending again, Restarts=$restarts, reason $(slurm_job_field "$id" Reason)" || { bad "not requeued (state $(slurm_job_field "$id" JobState))"; cat job-$id.out; slurm_dump_logs; }
# release only once slurmd has cleaned up the first run (node idle again): released at once, the
# job can start while the old step is still being torn down and fail without running
t0=$SECONDS
until [ "$(sinfo -h -o %T 2> /dev/null | head -1)" = idle ] || [ $((SECONDS - t0)) -gt 30 ]; do sleep 0.3; done
sleep 1
scontrol update JobId="$id" StartTime=now && ok "released with scontrol update StartTime=now" || bad "scontrol update StartTime=now"
slurm_wait_job "$id" 300 || bad "requeued job did not finish in 300 s"
job_done "$id" "the requeued job finished"
restarts=$(slurm_job_field "$id" Restarts)
[ "${restarts:-0}" -ge 1 ] && ok "restart count $restarts >= 1" || bad "restart count '$restarts'"
grep -q "SIGUSR1 received, forwarding it to the launcher" job-$id.out && ok "the batch shell forwarded USR1 to mpirun" || bad "no forwarding line"
grep -q "exit 75): requeueing job $id" job-$id.out && ok "pof exited 75 and the script requeued the job: $(grep -o 'stopped on SIGUSR1 after global step [0-9]* ([^)]*)' job-$id.out)" || bad "no requeue line"
res=$(grep -o 'pretrain: resuming from [^ ]*ckpt-[0-9]*\.h5' job-$id.out | head -1)
step=$(echo "$res" | sed -n 's/.*ckpt-0*\([0-9][0-9]*\)\.h5/\1/p')
[ -n "$step" ] && [ "$step" -gt 0 ] && ok "the second run resumed from global step $step > 0 ($(grep -o 'resuming from .*' job-$id.out | head -1))" || { bad "no resume from a step > 0"; cat job-$id.out; }
grep -q "restart 1)" job-$id.out && ok "the second run saw SLURM_RESTART_COUNT=1" || bad "restart count not seen by the job"
# the uninterrupted reference, outside Slurm, same options and ranks
timeout 300 mpiexec --oversubscribe -n 2 -x OMP_NUM_THREADS=1 "$pof" pretrain "${OPTS[@]}" -run_dir ref -run_quiet > ref.log 2>&1 || { bad "reference run"; tail ref.log; }
if /usr/bin/python3 "$src/tests/resume/compare_models.py" run/model.h5 ref/model.h5 > cmp.txt 2>&1; then
  ok "final parameters, momentum, BN statistics bitwise equal to the uninterrupted run's ($(grep -c 'bytes differing 0' cmp.txt) arrays)"
else
  bad "final state differs from the uninterrupted run"; cat cmp.txt
fi
submit -n 2 -o again-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir run && slurm_wait_job "$JOB" 60
job_done "$JOB" "resubmitting the finished run" && grep -q "already finished" again-$JOB.out && ok "... says already finished" || { bad "rerun of a finished run"; cat again-$JOB.out; }
slurm_finish
