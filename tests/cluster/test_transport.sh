#!/bin/bash
# The transport between ranks on a 2-node Slurm (tests/slurm/harness.sh, slurm_start_cluster),
# from Open MPI's own verbose output (btl_base_verbose 100): a 4-rank `pof bench` job, 2 ranks per
# node, launched by jobs/env.sh with mpirun and with srun --mpi=pmix; every rank uses tcp for the
# ranks on the other node (connecting to the test's own addresses), vader (shared memory) for the
# rank on its own node (btl_pairs.py). Negative control: with `--mca btl self,vader` the same
# 2-node job fails ("unable to reach each other"): shared memory cannot cross nodes, so the first
# check is not vacuous.
. "$(dirname "$0")/common.sh" "$1" "$2" 2
cat > bench.sh << 'B'
#!/bin/bash
source "$POF_ROOT/jobs/env.sh" || exit 1
pof_launch bench -bench_step train -bench_steps 2 -bench_warmup 1 -bench_input 1x16x16 -model_classes 10 -model_depth 10 -model_width 1 -opt_batch 16
B
prefix=${SLURM_SUBNET%0/24}
POF_MPIRUN_FLAGS="--mca btl_base_verbose 100" submit -N 2 --ntasks-per-node=2 -o mpirun-%j.out bench.sh && m=$JOB
OMPI_MCA_btl_base_verbose=100 POF_LAUNCHER=srun submit -N 2 --ntasks-per-node=2 -o srun-%j.out bench.sh && s=$JOB
POF_MPIRUN_FLAGS="--mca btl self,vader" submit -N 2 --ntasks-per-node=2 -o neg-%j.out bench.sh && n=$JOB
for j in $m $s $n; do slurm_wait_job "$j" 120 || bad "job $j did not finish in 120 s"; done
for l in mpirun srun; do
  j=$([ $l = mpirun ] && echo $m || echo $s)
  job_done "$j" "$l: 4-rank bench on 2 nodes" || tail -30 $l-$j.out
  if out=$(/usr/bin/python3 "$src/tests/cluster/btl_pairs.py" $l-$j.out 4 "$prefix" 2>&1); then
    ok "$l: $out"
  else
    bad "$l transport: $out"; grep "bml: Using" $l-$j.out
  fi
done
st=$(slurm_job_field "$n" JobState)
[ "$st" = FAILED ] && grep -q "unable to reach each other" neg-$n.out \
  && ok "negative control: --mca btl self,vader across 2 nodes fails (job $st, exit $(slurm_job_field "$n" ExitCode), 'unable to reach each other')" \
  || { bad "negative control: job $n $st"; tail -30 neg-$n.out; }
cluster_finish
