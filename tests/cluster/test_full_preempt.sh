#!/bin/bash
# cluster-full (c): preemption across nodes on a 2-node Slurm, a 2-node 2-rank pretrain job, each
# launcher. Every rank holds at global step 20 until a stop signal reaches it (POF_TEST_RAISE=
# step:20:WAIT, 60 s at most; the test waits until both ranks say they hold); `scancel --signal=USR1 --batch` goes to the batch shell, which
# forwards it to the launcher, which must deliver it to the ranks on both nodes: a quick stop at
# step 20 shows that every rank got it (a rank without it would hold for 60 s). Then one
# checkpoint, exit 75, the script requeues (not counted as a lost-peer restart), the job resumes
# and ends bitwise equal to an uninterrupted run.
. "$(dirname "$0")/common.sh" "$1" "$2" 2
tiny d.h5 1 32 32 10 256 32
OPTS=(-data_file d.h5 -model_depth 10 -model_width 1 -opt_batch 16 -run_epochs 16 -opt_milestones 2 -run_seed 7 -ckpt_every_steps 4)
mkdir -p ref && ref_run ref/r2 2 "${OPTS[@]}" || bad "reference run"
for l in mpirun srun; do
  POF_TEST_RAISE=step:20:WAIT POF_MPIRUN_FLAGS="-x POF_TEST_RAISE" POF_LAUNCHER=$l \
    submit --nodes=2 --ntasks=2 -o $l-%j.out "$src/jobs/pretrain.sbatch" "${OPTS[@]}" -run_dir $l && id=$JOB
  # each rank says when it holds (after step 20, before that step's checkpoint): both must
  holding() { [ "$(grep -c 'pof: test hook: rank [01] holds after global step 20 ' $l-$id.out 2> /dev/null)" = 2 ]; }
  wait_until 120 holding && running $id && ok "$l: both ranks hold after global step 20 ($WAITED s after the submission)" || { bad "$l: the ranks do not hold at step 20"; tail $l-$id.out; }
  t0=$(now_ms)
  scancel --signal=USR1 --batch $id && ok "$l: scancel --signal=USR1 --batch while every rank holds at step 20 (job on $(slurm_job_field $id NodeList))"
  wait_until 60 requeued $id && dt=$(($(now_ms) - t0)) && ok "$l: requeued $(secs $dt) s after the signal" || { bad "$l: not requeued"; tail -20 $l-$id.out; }
  [ "${dt:-99999}" -lt 30000 ] && ok "$l: stopped well within the 60 s a rank without the signal would hold: USR1 reached both ranks on both nodes" || bad "$l: stop took ${dt:-?} ms"
  grep -q "stopped on SIGUSR1 after global step 20 " $l-$id.out && ok "$l: pof: stopped on SIGUSR1 after global step 20, checkpoint written" || { bad "$l: stop line"; tail $l-$id.out; }
  grep -q "job=$id restart=0 event=end status=75 mapped=75 action=requeue" $l/job-restarts.log && ! grep -q lost_peer=1 $l/job-restarts.log \
    && ok "$l: exit 75, requeued by the script, not counted as a lost-peer restart" || { bad "$l: restart log"; cat $l/job-restarts.log; }
  release $id
  slurm_wait_job $id 300; job_done $id "$l: requeued job finished" || tail -30 $l-$id.out
  s=$(resumed_step $l-$id.out); [ "$s" = 20 ] && ok "$l: resumed from the stop checkpoint (global step 20)" || bad "$l: resume step '$s'"
  same_model $l/model.h5 ref/r2/model.h5 "$l: preempted across nodes vs uninterrupted 2 ranks"
done
cluster_finish
