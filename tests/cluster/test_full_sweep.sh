#!/bin/bash
# cluster-full (d): jobs/sweep-array.sbatch on a 3-node Slurm: a 2-line grid as --array=1-2, each
# task a 2-rank post-training job over up to 2 nodes (--nodes=1-2 --ntasks=2). While line 1 runs,
# its second node is killed: that task maps mpirun's status to 69 and requeues itself without the
# node; line 2 runs once (no restart) and line 1 reruns from its checkpoint; both lines' models
# bitwise equal to uninterrupted runs of the same lines.
. "$(dirname "$0")/common.sh" "$1" "$2" 3
tiny d.h5 1 32 32 10 256 32
M=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16)
timeout 120 mpiexec --oversubscribe -n 2 -x OMP_NUM_THREADS=1 "$pof" pretrain "${M[@]}" -run_epochs 1 -run_dir pre -run_quiet > pre.log 2>&1 || { bad "pretrain outside Slurm"; tail pre.log; }
printf '%s\n' '# gamma_max x seed' '-pof_gamma_max 1 -run_seed 11' '-pof_gamma_max 3 -run_seed 12' > grid.txt
COMMON=(-model_in pre/model.h5 -run_epochs 6 -ckpt_every_steps 4)
for i in 1 2; do
  line=$(grep -v '^#' grid.txt | sed -n ${i}p)
  timeout 300 mpiexec --oversubscribe -n 2 -x OMP_NUM_THREADS=1 "$pof" posttrain "${M[@]}" "${COMMON[@]}" $line -run_dir ref-$i -run_quiet > ref-$i.log 2>&1 || { bad "reference line $i"; tail ref-$i.log; }
done
POF_SWEEP_DIR=sw submit --array=1-2%1 --nodes=1-2 --ntasks=2 -o sweep-%A_%a.out "$src/jobs/sweep-array.sbatch" grid.txt "${M[@]}" "${COMMON[@]}" \
  && ok "sweep-array.sbatch --array=1-2%1 --nodes=1-2 --ntasks=2 submitted (job $JOB)" || bad "sbatch"
arr=$JOB
wait_until 120 past sw/line-001 12 && running ${arr}_1 || bad "line 1 not running past step 12"
nl=$(slurm_job_field ${arr}_1 NodeList)
victim=$(scontrol show hostnames "$nl" | grep -vx "$(slurm_job_field ${arr}_1 BatchHost)" | head -1)
[ -n "$victim" ] || bad "line 1 runs on one node only ($nl)"
t0=$(now_ms)
ok "line 1 on $nl: killed $victim ($(slurm_node_kill "$victim") processes) at its checkpoint step $(ckpt_step sw/line-001)"
wait_until 90 requeued ${arr}_1 && ok "line 1 requeued $(secs $(($(now_ms) - t0))) s after the kill (ExcNodeList=$(slurm_job_field ${arr}_1 ExcNodeList))" || { bad "line 1 not requeued"; tail -20 sweep-${arr}_1.out; }
release ${arr}_1
slurm_wait_job $arr 400 || bad "array not finished in 400 s"
for t in 1 2; do job_done ${arr}_$t "line $t on $(slurm_job_field ${arr}_$t NodeList)" || tail -20 sweep-${arr}_$t.out; done
[ "$(slurm_job_field ${arr}_1 Restarts)" = 1 ] && [ "$(slurm_job_field ${arr}_2 Restarts)" = 0 ] && ok "line 1 restarted once, line 2 never (Restarts 1 and 0)" || bad "restarts: $(slurm_job_field ${arr}_1 Restarts) $(slurm_job_field ${arr}_2 Restarts)"
[ "$(grep -c lost_peer=1 sw/line-001/job-restarts.log)" = 1 ] && [ "$(grep -c event=start sw/line-002/job-restarts.log)" = 1 ] \
  && ok "job-restarts.log: one lost-peer restart in line-001, one run of line-002" || { bad "restart logs"; cat sw/line-00*/job-restarts.log; }
s=$(resumed_step sweep-${arr}_1.out); [ -n "$s" ] && [ "$s" -ge 12 ] && ok "line 1 resumed from global step $s" || bad "line 1 resume step '$s'"
for t in 1 2; do same_model sw/line-00$t/model.h5 ref-$t/model.h5 "line $t vs its uninterrupted run"; done
cluster_finish
