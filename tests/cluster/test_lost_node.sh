#!/bin/bash
# A lost node on a 2-node Slurm (tests/slurm/harness.sh, slurm_start_cluster): a 2-rank pretrain
# job submitted with a node range (--nodes=1-2 --ntasks=2, one rank per node) through mpirun;
# once a checkpoint past global step 20 exists, the node pofn2 dies (SIGKILL to its slurmd and
# every job process in its namespace). Checks: mpirun's status is mapped to 69 by the job script,
# which records the lost-peer restart in the run directory (job-restarts.log), requeues the job
# with pofn2 in ExcNodeList, and the requeued job runs on pofn1 alone (2 ranks), resumes from the
# newest complete checkpoint (global step > 0) and finishes with the final parameters, momentum
# and BN statistics bitwise equal to an uninterrupted 2-rank run's. Prints the seconds from the
# kill to the requeue (detection).
. "$(dirname "$0")/common.sh" "$1" "$2" 2
tiny d.h5 1 32 32 10 256 32
# 16 steps per epoch, 256 in all; a checkpoint every 4 steps
OPTS=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16 -run_epochs 16 -opt_milestones 2 -run_seed 7 -ckpt_every_steps 4)
submit --nodes=1-2 --ntasks=2 -o job-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir run \
  && ok "pretrain.sbatch --nodes=1-2 --ntasks=2 submitted (job $JOB)" || bad "sbatch"
id=$JOB
past20() { local s; s=$(ckpt_step run); [ -n "$s" ] && [ "$s" -ge 20 ]; }
if wait_until 120 past20 && [ "$(slurm_job_field "$id" JobState)" = RUNNING ]; then
  ok "running on $(slurm_job_field "$id" NodeList) (batch host $(slurm_job_field "$id" BatchHost)), checkpoint of step $(ckpt_step run) written"
else
  bad "job not running past step 20 (state $(slurm_job_field "$id" JobState))"; cat job-$id.out
fi
[ "$(slurm_job_field "$id" NodeList)" = "pofn[1-2]" ] && [ "$(slurm_job_field "$id" BatchHost)" = pofn1 ] \
  && ok "one rank per node (NodeList pofn[1-2], batch shell on pofn1)" || bad "placement: $(slurm_job_field "$id" NodeList)"
at_kill=$(ckpt_step run)
t0=$(now_ms)
k=$(slurm_node_kill pofn2)
[ "$k" -ge 3 ] && ok "pofn2 killed: SIGKILL to its $k processes (slurmd, slurmstepd, orted, pof rank)" || bad "killed only $k processes on pofn2"
requeued() { [ "$(slurm_job_field "$id" JobState)" = PENDING ] && [ "$(slurm_job_field "$id" Restarts)" -ge 1 ]; }
if wait_until 90 requeued; then
  ok "mpirun exited $(log_delay job-$id.out "launcher exited with status" $t0) s after the kill (whole seconds); the script probed the nodes and requeued the job $(secs $(($(now_ms) - t0))) s after the kill (Restarts=$(slurm_job_field "$id" Restarts))"
else
  bad "job not requeued within 90 s of the kill (state $(slurm_job_field "$id" JobState))"; cat job-$id.out; slurm_dump_logs
fi
grep -q "ORTE has lost communication with a remote daemon" job-$id.out && ok "mpirun: lost communication with a remote daemon" || bad "no mpirun lost-daemon message"
line=$(grep "event=end" run/job-restarts.log | head -1)
[[ "$line" == *"job=$id restart=0 event=end status=205 mapped=69 action=requeue lost=pofn2 lost_peer=1"* ]] \
  && ok "job-restarts.log: mpirun's 205 mapped to 69, lost node pofn2, counted as restart 1 ($line)" || { bad "restart log: '$line'"; cat run/job-restarts.log job-$id.out; }
[ "$(slurm_job_field "$id" ExcNodeList)" = pofn2 ] && ok "requeued with ExcNodeList=pofn2" || bad "ExcNodeList '$(slurm_job_field "$id" ExcNodeList)'"
# release once pofn1 is idle again (the requeued job is held until its begin time)
wait_until 60 eval '[ "$(slurm_node_state pofn1)" = idle ]' || bad "pofn1 not idle"
sleep 1
scontrol update JobId="$id" StartTime=now && ok "released with scontrol update StartTime=now" || bad "scontrol update StartTime=now"
slurm_wait_job "$id" 300 || bad "requeued job did not finish in 300 s"
job_done "$id" "the requeued job finished" || cat job-$id.out
[ "$(slurm_job_field "$id" NodeList)" = pofn1 ] && ok "second run on pofn1 alone (fewer nodes: --nodes=1-2), 2 ranks" || bad "second run on '$(slurm_job_field "$id" NodeList)'"
step=$(grep -o 'pretrain: resuming from [^ ]*ckpt-[0-9]*\.h5' job-$id.out | head -1 | sed -n 's/.*ckpt-0*\([0-9][0-9]*\)\.h5/\1/p')
[ -n "$step" ] && [ "$step" -ge 20 ] && [ "$step" -ge "$at_kill" ] \
  && ok "resumed from the newest complete checkpoint, global step $step (>= $at_kill, the newest when the node died)" || { bad "resume step '$step' (newest at kill $at_kill)"; cat job-$id.out; }
[ "$(grep -c "job=$id .*lost_peer=1" run/job-restarts.log)" = 1 ] && grep -q "job=$id restart=1 event=end status=0 mapped=0 action=done" run/job-restarts.log \
  && ok "restart log: one lost-peer restart, then done" || { bad "restart log"; cat run/job-restarts.log; }
mkdir ref && ref_run ref 2 "${OPTS[@]}" || { bad "reference run"; tail ref.log; }
same_model run/model.h5 ref/model.h5 "final model after a lost node vs the uninterrupted 2-rank run"
cluster_finish
