#!/bin/bash
# cluster-full (b)(i): a lost node (SIGKILL of its slurmd and every job process on it) on a
# 3-node Slurm, a 2-node 2-rank pretrain job (--nodes=2 exact), both launchers.
#  mpirun, POF_MAX_RESTARTS=1: mpirun ends at once (205); the script maps it to 69, requeues the
#    job without the lost node; the job resumes on the two other nodes; a second node is killed:
#    the bound is reached, the job ends FAILED with exit 69 and the newest checkpoint intact; the
#    first lost node returns (slurmd restarted), a resubmission continues the run directory (a
#    new job: its own restart budget) and finishes bitwise equal to an uninterrupted run.
#  srun --mpi=pmix: the surviving rank waits on its dead peer; Slurm ends the job (NODE_FAIL) after
#    SlurmdTimeout and requeues it itself; the next run counts that restart in job-restarts.log,
#    resumes on two live nodes, and ends bitwise equal.
# Prints the seconds from each kill to the job's end (detection) and to its requeue.
. "$(dirname "$0")/common.sh" "$1" "$2" 3
tiny d.h5 1 32 32 10 256 32
OPTS=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16 -run_epochs 16 -opt_milestones 2 -run_seed 7 -ckpt_every_steps 4)
mkdir -p ref && ref_run ref/r2 2 "${OPTS[@]}" || bad "reference run"
# kill_second ID : kill the job's second node (not the batch host); sets KILLED, T_KILL
kill_second() {
  local nl
  nl=$(slurm_job_field "$1" NodeList)
  KILLED=$(scontrol show hostnames "$nl" | grep -vx "$(slurm_job_field "$1" BatchHost)" | head -1)
  T_KILL=$(now_ms)
  ok "$2: killed $KILLED ($(slurm_node_kill "$KILLED") processes) while the job ran on $nl, newest checkpoint step $(ckpt_step "$3")"
}
left_running() { [ "$(slurm_job_field "$1" JobState)" != RUNNING ]; }

# ---- mpirun, POF_MAX_RESTARTS=1
POF_MAX_RESTARTS=1 submit --nodes=2 --ntasks=2 -o m-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir m && id=$JOB
wait_until 120 past m 20 && running $id || bad "mpirun job not running past step 20"
kill_second $id "mpirun run 1" m
first=$KILLED
wait_until 60 left_running $id && ok "mpirun run 1: mpirun exited $(log_delay m-$id.out "launcher exited with status" $T_KILL) s after the kill (whole seconds), the job left RUNNING after $(secs $(($(now_ms) - T_KILL))) s (node probe included)"
wait_until 60 requeued $id && ok "mpirun run 1: requeued $(secs $(($(now_ms) - T_KILL))) s after the kill, ExcNodeList=$(slurm_job_field $id ExcNodeList)" || { bad "not requeued"; cat m-$id.out; }
grep -q "status=205 mapped=69 action=requeue lost=$first lost_peer=1" m/job-restarts.log && ok "mpirun run 1: 205 -> 69, lost=$first, restart 1 of POF_MAX_RESTARTS=1" || { bad "restart log"; cat m/job-restarts.log; }
release $id
wait_until 120 running $id && wait_until 120 past m 60 || bad "run 2 not past step 60"
nl2=$(slurm_job_field $id NodeList)
[[ "$(scontrol show hostnames "$nl2")" != *"$first"* ]] && ok "mpirun run 2 on $nl2, without $first" || bad "run 2 on $nl2 includes $first"
kill_second $id "mpirun run 2" m
second=$KILLED
slurm_wait_job $id 120 || bad "job did not end after the second kill"
st=$(slurm_job_field $id JobState); ec=$(slurm_job_field $id ExitCode)
[ "$st" = FAILED ] && [ "$ec" = 69:0 ] && ok "second lost node: POF_MAX_RESTARTS=1 reached, job FAILED with exit $ec $(secs $(($(now_ms) - T_KILL))) s after the kill" || { bad "after the second kill: $st $ec"; tail -20 m-$id.out; }
grep -q "action=give-up lost=$second" m/job-restarts.log && grep -q "giving up; the newest complete checkpoint is intact" m-$id.out && ok "give-up recorded in job-restarts.log and explained in the job output" || { bad "give-up not recorded"; cat m/job-restarts.log; }
slurm_node_start "$first" && wait_until 60 eval '[ "$(slurm_node_state '"$first"')" = idle ]' && ok "$first returned (slurmd restarted; ReturnToService=2): idle after $WAITED s" || bad "$first did not return: $(slurm_node_state $first)"
POF_MAX_RESTARTS=1 submit --nodes=2 --ntasks=2 -o m-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir m && id2=$JOB
slurm_wait_job $id2 300; job_done $id2 "resubmitted job $id2 on $(slurm_job_field $id2 NodeList)" || tail m-$id2.out
s=$(resumed_step m-$id2.out); [ -n "$s" ] && [ "$s" -ge 60 ] && ok "it resumed from global step $s" || bad "resume step '$s'"
same_model m/model.h5 ref/r2/model.h5 "mpirun: two lost nodes, a give-up and a resubmission vs uninterrupted 2 ranks"
slurm_node_start "$second"; wait_until 60 eval '[ "$(sinfo -h -N -o %T | grep -cx idle)" = 3 ]' || bad "not all 3 nodes idle again"

# ---- srun --mpi=pmix
POF_LAUNCHER=srun submit --nodes=2 --ntasks=2 -o s-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir s && id=$JOB
wait_until 120 past s 20 && running $id || bad "srun job not running past step 20"
kill_second $id "srun run 1" s
wait_until 90 left_running $id && ok "srun: job left RUNNING $(secs $(($(now_ms) - T_KILL))) s after the kill (state $(slurm_job_field $id JobState), node $KILLED $(slurm_node_state $KILLED))" || bad "srun job still running 90 s after the kill"
wait_until 60 requeued $id && ok "srun: requeued by Slurm $(secs $(($(now_ms) - T_KILL))) s after the kill (Restarts=$(slurm_job_field $id Restarts))" || { bad "srun job not requeued"; tail -20 s-$id.out; }
release $id
slurm_wait_job $id 300; job_done $id "srun: requeued job finished on $(slurm_job_field $id NodeList)" || tail -30 s-$id.out
grep -q "event=requeued-by-slurm mapped=69 lost_peer=1" s/job-restarts.log && ok "srun: the next run counted Slurm's requeue as a lost-peer restart" || { bad "srun restart log"; cat s/job-restarts.log; }
s=$(resumed_step s-$id.out); [ -n "$s" ] && [ "$s" -ge 20 ] && ok "srun: resumed from global step $s" || bad "srun resume step '$s'"
same_model s/model.h5 ref/r2/model.h5 "srun: lost node vs uninterrupted 2 ranks"
cluster_finish
