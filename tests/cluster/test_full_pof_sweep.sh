#!/bin/bash
# cluster-full (d): `pof sweep` (jobs/sweep-inline.sbatch) over 2 nodes, one group of 2 ranks that
# spans both (--nodes=2 --ntasks-per-node=1, GROUP=2), a 2-line pretrain grid, -run_step_timeout 5
# (POF_STEP_TIMEOUT), mpirun. pofn2 is killed while line 1 runs: the job ends with 69 (no rank
# left waiting on pofn1), the script requeues it (restart 1); once pofn2 is back the rerun resumes
# line 1 from its checkpoint and runs line 2: both lines bitwise equal to their uninterrupted runs.
. "$(dirname "$0")/common.sh" "$1" "$2" 2
tiny d.h5 1 32 32 10 256 32
M=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16 -run_epochs 6 -opt_milestones 2 -ckpt_every_steps 4)
printf '%s\n' '# seeds' '-run_seed 21' '-run_seed 22' > grid.txt
for i in 1 2; do
  mkdir -p ref && ref_run ref/l$i 2 "${M[@]}" -run_seed $((20 + i)) || { bad "reference line $i"; tail ref/l$i.log; }
done
GROUP=2 POF_STEP_TIMEOUT=5 submit --nodes=2 --ntasks=2 --ntasks-per-node=1 -o sw-%j.out "$src/jobs/sweep-inline.sbatch" grid.txt sw -sweep_command pretrain "${M[@]}" \
  && ok "sweep-inline.sbatch on 2 nodes, one group of 2 ranks (job $JOB)" || bad "sbatch"
id=$JOB
wait_until 180 past sw/line-001 12 && running $id || bad "line 1 not running past step 12"
t0=$(now_ms)
ok "killed pofn2 ($(slurm_node_kill pofn2) processes) while line 1 ran on $(slurm_job_field $id NodeList), its checkpoint step $(ckpt_step sw/line-001)"
left_running() { [ "$(slurm_job_field "$1" JobState)" != RUNNING ]; }
wait_until 90 left_running $id && ok "the job left RUNNING $(secs $(($(now_ms) - t0))) s after the kill: $(grep -m1 -oE 'launcher exited with status [0-9]+' sw-$id.out)" || bad "still running 90 s after the kill"
none_left() { ! slurm_node_exec pofn1 ps -o comm= -p "$(slurm_node_pids pofn1 | tr '\n' ',' | sed 's/,$//')" 2> /dev/null | grep -qx pof; }
wait_until 30 none_left && ok "no pof rank left waiting on pofn1" || bad "a pof rank still runs on pofn1"
wait_until 60 requeued $id && ok "requeued $(secs $(($(now_ms) - t0))) s after the kill" || { bad "not requeued"; tail -20 sw-$id.out; }
grep -qE "event=end status=(69|205) mapped=69 action=requeue" sw/job-restarts.log && ok "$(grep -m1 -oE 'status=[0-9]+ mapped=69 action=requeue.*' sw/job-restarts.log)" || { bad "restart log"; cat sw/job-restarts.log; }
slurm_node_start pofn2 && wait_until 60 eval '[ "$(slurm_node_state pofn2)" = idle ]' && ok "pofn2 back: idle after $WAITED s" || bad "pofn2 not back: $(slurm_node_state pofn2)"
scontrol update JobId=$id ExcNodeList= 2> /dev/null
release $id
slurm_wait_job $id 400; job_done $id "the requeued sweep finished on $(slurm_job_field $id NodeList)" || tail -30 sw-$id.out
grep -q "resuming from sw/line-001/ckpt-" sw-$id.out && ok "line 1 resumed from its checkpoint" || bad "line 1 did not resume"
for i in 1 2; do same_model sw/line-00$i/model.h5 ref/l$i/model.h5 "line $i vs its uninterrupted run"; done
cluster_finish
