#!/bin/bash
# cluster-full §3: a rank that hangs, and a silent node, with pof's own -run_step_timeout (S = 5 s,
# POF_STEP_TIMEOUT of the job scripts) on a 2-node Slurm whose SlurmdTimeout is 120 s (Slurm's
# node-failure path is not what ends these jobs), POF_ABORT_GRACE=10. A 2-node
# 2-rank pretrain job (--nodes=2, one rank per node), each launcher:
#  SIGSTOP of the rank on pofn2: the rank on pofn1 prints `pof: error: no progress for 5 s in
#    <phase> at step N` and ends the job with 69 (MPI_Abort from its watchdog thread); every node
#    answers the probe, so the script requeues the job as a lost peer (restart 1); it resumes on
#    both nodes and ends bitwise equal to an uninterrupted 2-rank run.
#  the link of pofn2 down (nothing closes a socket): the watchdog on pofn1 says so after S s and
#    calls MPI_Abort, which the launcher cannot finish (it cannot reach pofn2); the job script ends
#    the launcher POF_ABORT_GRACE s after the watchdog's line appeared in POF_LOST_PEER_FILE, maps
#    that to 69 and requeues the job without pofn2 (it did not answer the probe); once the link is
#    up and the exclusion cleared, the job resumes on both nodes, bitwise equal.
# Prints the seconds from each fault to pof's error line, to the job's end and to the requeue.
export SLURM_CLUSTER_SLURMD_TIMEOUT=120 POF_ABORT_GRACE=10
. "$(dirname "$0")/common.sh" "$1" "$2" 2
tiny d.h5 1 32 32 10 256 32
S=5
OPTS=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16 -run_epochs 16 -opt_milestones 2 -run_seed 7 -ckpt_every_steps 4)
mkdir -p ref && ref_run ref/r2 2 "${OPTS[@]}" || bad "reference run"
# pof_on NODE : the pid of the pof rank running on NODE
pof_on() { local q; for q in $(slurm_node_pids "$1"); do [ "$(cat /proc/$q/comm 2> /dev/null)" = pof ] && { echo "$q"; return; }; done; }
left_running() { [ "$(slurm_job_field "$1" JobState)" != RUNNING ]; }
# fault_run LAUNCHER DIR FAULT : submit, wait for step 20, inject FAULT (stop|silence) on pofn2,
# check the 69 from pof's watchdog, the requeue, the resume and the bitwise-equal end
fault_run() {
  local l="$1" d="$2" f="$3" id p t0 out
  POF_LAUNCHER=$l POF_STEP_TIMEOUT=$S submit --nodes=2 --ntasks=2 -o $d-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir $d && id=$JOB
  out=$d-$id.out
  wait_until 120 past $d 20 && running $id || bad "$d: job not running past step 20"
  p=$(pof_on pofn2)
  t0=$(now_ms)
  if [ "$f" = stop ]; then
    [ -n "$p" ] && kill -STOP "$p" && ok "$d: the rank on pofn2 (pid $p) stopped with SIGSTOP at checkpoint step $(ckpt_step $d)" || bad "$d: no pof process on pofn2"
  else
    slurm_node_silence pofn2 && ok "$d: link of pofn2 down at checkpoint step $(ckpt_step $d)"
  fi
  wait_until 60 eval "grep -qE '^pof: error: no progress for $S s in [a-z ]+ at step [0-9]+$' $out" \
    && ok "$d: $WAITED s after the $f: $(grep -m1 '^pof: error: no progress' $out)" || { bad "$d: no watchdog line from rank 0"; tail -30 $out; }
  if [ "$f" = stop ]; then
    if wait_until 90 eval "grep -q 'launcher exited with status' $out"; then
      ok "$d: launcher exited $(log_delay $out "launcher exited with status" $t0) s after the $f (whole seconds): $(grep -m1 -o 'launcher exited with status [0-9]*' $out)"
    else
      bad "$d: launcher still running 90 s after the $f"; tail -20 $out
    fi
  else
    if wait_until 120 eval "grep -q 'launcher exited with status' $out"; then
      ok "$d: launcher ended $(log_delay $out "launcher exited with status" $t0) s after the $f (whole seconds): $(grep -m1 -o 'launcher exited with status [0-9]*' $out)$(grep -q "has not ended" $out && echo ", ended by the script: $(grep -m1 -o 'the launcher has not ended [0-9]* s after' $out)")"
    else
      bad "$d: launcher still running 120 s after the $f"; tail -20 $out
    fi
  fi
  grep -q '"status":"lost_peer"' $out && ok "$d: JSON line with status lost_peer" || bad "$d: no lost_peer JSON line"
  if [ "$f" = silence ]; then # Slurm completes the job's end (and so the requeue) only once pofn2 answers
    sleep 2; slurm_node_unsilence pofn2
  fi
  if wait_until 90 requeued $id; then
    ok "$d: requeued $(secs $(($(now_ms) - t0))) s after the $f (Restarts=$(slurm_job_field $id Restarts))"
  else
    bad "$d: not requeued ($(slurm_job_field $id JobState))"; tail -30 $out
  fi
  grep -qE "event=end status=[0-9]+ mapped=69 action=requeue" $d/job-restarts.log && ok "$d: $(grep -m1 -o 'status=[0-9]* mapped=69 action=requeue.*' $d/job-restarts.log)" || { bad "$d: restart log"; cat $d/job-restarts.log; }
  if [ "$f" = silence ]; then
    wait_until 240 eval '[ "$(slurm_node_state pofn2)" = idle ]' || bad "$d: pofn2 not idle after the link came up: $(slurm_node_state pofn2)"
    scontrol update JobId=$id ExcNodeList= || bad "$d: could not clear ExcNodeList"
  fi
  [ -n "$p" ] && wait_until 30 eval "! kill -0 $p 2> /dev/null" && ok "$d: the stopped/silenced rank is gone" || bad "$d: rank $p still there"
  release $id
  slurm_wait_job $id 300; job_done $id "$d: requeued job finished on $(slurm_job_field $id NodeList)" || tail -30 $out
  local s; s=$(resumed_step $out); [ -n "$s" ] && [ "$s" -ge 20 ] && ok "$d: resumed from global step $s" || bad "$d: resume step '$s'"
  same_model $d/model.h5 ref/r2/model.h5 "$d: $f + requeue + resume vs uninterrupted 2 ranks"
}
fault_run mpirun m-stop stop
fault_run srun s-stop stop
fault_run mpirun m-silent silence
fault_run srun s-silent silence
cluster_finish
