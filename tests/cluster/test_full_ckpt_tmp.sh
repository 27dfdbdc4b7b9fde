#!/bin/bash
# cluster-full (b): a node lost while a checkpoint is being written. A 2-node 2-rank pretrain job
# (--nodes=1-2, mpirun) of a WRN-16-4 (2.7 M parameters, so a checkpoint takes a while); when the
# temporary file of a checkpoint appears in the run directory (inotify), every process of pofn2 is
# SIGKILLed. The temporary file never becomes the newest checkpoint: the job (205 -> 69, requeued
# without pofn2) resumes from the checkpoint before it and ends bitwise equal to an uninterrupted
# 2-rank run.
. "$(dirname "$0")/common.sh" "$1" "$2" 2
tiny d.h5 1 8 8 10 256 32
OPTS=(-data_file d.h5 -model_depth 16 -model_width 4 -opt_batch 16 -run_epochs 3 -opt_milestones 2 -run_seed 7 -ckpt_every_steps 8)
mkdir -p ref && ref_run ref/r2 2 "${OPTS[@]}" || bad "reference run"
submit --nodes=1-2 --ntasks=2 -o k-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir k && id=$JOB
wait_until 180 past k 8 && running $id || bad "job not running past step 8"
before=$(ckpt_step k)
t0=$(now_ms)
if tmp=$(/usr/bin/python3 "$src/tests/cluster/kill_on_tmp.py" k "${_slurm_node_ns[pofn2]}" 120); then
  ok "pofn2 killed when $tmp appeared (newest complete checkpoint: step $before)"
else
  bad "no checkpoint temporary file appeared within 120 s"
fi
complete_now=$(ckpt_step k)
wait_until 60 requeued $id && ok "requeued $(secs $(($(now_ms) - t0))) s after the kill, ExcNodeList=$(slurm_job_field $id ExcNodeList)" || { bad "not requeued"; tail -20 k-$id.out; }
grep -q "status=205 mapped=69 action=requeue lost=pofn2" k/job-restarts.log && ok "205 -> 69, lost=pofn2" || { bad "restart log"; cat k/job-restarts.log; }
left=$(ls k | grep '\.tmp\.' | tr '\n' ' ')
echo "after the kill: newest complete checkpoint step $complete_now; temporary files: ${left:-none}"
release $id
slurm_wait_job $id 300; job_done $id "requeued job finished on $(slurm_job_field $id NodeList)" || tail -30 k-$id.out
s=$(resumed_step k-$id.out)
[ -n "$s" ] && [ "$s" = "$complete_now" ] && ok "resumed from step $s, the newest complete checkpoint (the one being written when pofn2 died was not used)" || bad "resumed from '$s', newest complete was $complete_now"
grep -q "corrupt" k-$id.out && bad "a checkpoint failed verification" || ok "no checkpoint failed verification"
same_model k/model.h5 ref/r2/model.h5 "node lost during a checkpoint write vs uninterrupted 2 ranks"
cluster_finish
