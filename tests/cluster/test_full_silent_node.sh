#!/bin/bash
# cluster-full (b)(ii): a silent node on a 2-node Slurm: a 2-node 2-rank pretrain job (--nodes=2,
# both nodes needed), the link of pofn2 set down mid-run (its processes keep running, no socket is
# closed, no packet gets through), with each launcher. pof has no step timeout yet, so what ends
# the job is Slurm: after SlurmdTimeout (10 s here) without an answer pofn2 is set DOWN, the job
# ends NODE_FAIL and Slurm requeues it; the next run counts that restart. The job waits until the
# node returns (link up: slurmd re-registers, ReturnToService=2 makes it idle; Slurm kills the
# stale job processes there), then resumes on both nodes and ends bitwise equal to an
# uninterrupted 2-rank run. Prints the seconds from the link going down to the job's end.
. "$(dirname "$0")/common.sh" "$1" "$2" 2
tiny d.h5 1 32 32 10 256 32
OPTS=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16 -run_epochs 16 -opt_milestones 2 -run_seed 7 -ckpt_every_steps 4)
mkdir -p ref && ref_run ref/r2 2 "${OPTS[@]}" || bad "reference run"
left_running() { [ "$(slurm_job_field "$1" JobState)" != RUNNING ]; }
stale_gone() { ! slurm_node_exec pofn2 ps -o comm= -p "$(slurm_node_pids pofn2 | tr '\n' ',' | sed 's/,$//')" 2> /dev/null | grep -qE '^(pof|orted|slurmstepd)$'; }
for l in mpirun srun; do
  POF_LAUNCHER=$l submit --nodes=2 --ntasks=2 -o $l-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir $l && id=$JOB
  wait_until 120 past $l 20 && running $id || bad "$l: job not running past step 20"
  t0=$(now_ms)
  slurm_node_silence pofn2 && ok "$l: link of pofn2 down at checkpoint step $(ckpt_step $l) (job on $(slurm_job_field $id NodeList))"
  if wait_until 180 left_running $id; then
    ok "$l: job ended $(secs $(($(now_ms) - t0))) s after the link went down (state $(slurm_job_field $id JobState), pofn2 $(slurm_node_state pofn2))"
  else
    bad "$l: job still running 180 s after the link went down"
  fi
  wait_until 60 requeued $id && ok "$l: requeued by Slurm $(secs $(($(now_ms) - t0))) s after the link went down (Restarts=$(slurm_job_field $id Restarts), pending: $(slurm_job_field $id Reason))" || { bad "$l: not requeued"; tail -20 $l-$id.out; }
  # the batch shell gets SIGTERM; it records "ended-by-slurm" if the launcher exits within
  # KillWait, else it is killed before it can (the next run counts either)
  grep -q "SIGTERM received, forwarding it to the launcher" $l-$id.out && ok "$l: the batch shell got SIGTERM from Slurm ($(grep -q 'action=ended-by-slurm' $l/job-restarts.log && echo 'recorded ended-by-slurm' || echo 'killed before the launcher exited'))" || { bad "$l: no SIGTERM line"; tail -20 $l-$id.out; }
  sleep 3
  slurm_node_unsilence pofn2
  wait_until 90 eval '[ "$(slurm_node_state pofn2)" = idle ]' && ok "$l: pofn2 back (link up): idle after $WAITED s" || bad "$l: pofn2 not idle: $(slurm_node_state pofn2)"
  wait_until 60 stale_gone && ok "$l: the stale job processes on pofn2 are gone (after $WAITED s)" || { bad "$l: stale processes on pofn2"; slurm_node_exec pofn2 ps -ef; }
  release $id
  slurm_wait_job $id 300; job_done $id "$l: requeued job finished on $(slurm_job_field $id NodeList)" || tail -30 $l-$id.out
  grep -q "event=requeued-by-slurm mapped=69 lost_peer=1" $l/job-restarts.log && ok "$l: counted as a lost-peer restart in job-restarts.log" || { bad "$l: restart log"; cat $l/job-restarts.log; }
  s=$(resumed_step $l-$id.out); [ -n "$s" ] && [ "$s" -ge 20 ] && ok "$l: resumed from global step $s" || bad "$l: resume step '$s'"
  same_model $l/model.h5 ref/r2/model.h5 "$l: silent node vs uninterrupted 2 ranks"
done
cluster_finish
