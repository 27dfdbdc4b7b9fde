#!/bin/bash
# The long many-node tests (issue 32, CTest label cluster-full), each on its own Slurm cluster made
# of network namespaces on this machine (tests/slurm/harness.sh, slurm_start_cluster):
#   cluster_full_jobs         (a) pretrain.sbatch -> posttrain.sbatch (afterok) on 2x1, 2x2 and 4x1
#                                 nodes x ranks, mpirun and srun --mpi=pmix, bitwise vs one node
#   cluster_full_lost_node    (b)(i) SIGKILLed node: mpirun (requeue without the node, the
#                                 POF_MAX_RESTARTS bound, resubmission) and srun (Slurm's requeue)
#   cluster_full_silent_node  (b)(ii) a node whose link goes down, each launcher
#   cluster_full_hang         §3 a SIGSTOPped rank and a silent node with -run_step_timeout 5
#   cluster_full_ckpt_tmp     (b) a node killed while a checkpoint is written: never the newest
#   cluster_full_preempt      (c) scancel --signal=USR1 --batch across nodes, each launcher
#   cluster_full_sweep        (d) sweep-array.sbatch: a node lost during one line
#   cluster_full_pof_sweep    (d) pof sweep (sweep-inline.sbatch), a group over 2 nodes, a lost node
#   cluster_full_scaling      (e) scaling.sbatch on 1, 2 and 4 nodes
#   cluster_full_disagree     (f) node-local dataset, model and run directory: identical copies
#                                 serve, a differing copy or an unseen directory is refused
# usage: tests/cluster/full.sh [LOG]   (default LOG: <repo>/cluster-full.log; about 40 min)
# Uses the build in $POF_BUILD_DIR (default <repo>/build; brought up to date by jobs/build.sh),
# registers the tests there for the run (cmake -DPOF_CLUSTER_FULL=ON) and unregisters them after.
# Needs root, slurm-wlm, munge, iproute2. Exit status 0 only when every test passed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${POF_BUILD_DIR:-$root/build}"
log="${1:-$root/cluster-full.log}"
# always (incremental): a pof left from an older checkout would be tested in place of this one
POF_BUILD_DIR="$build" "$root/jobs/build.sh" || { echo "full.sh: build failed"; exit 1; }
cmake -DPOF_CLUSTER_FULL=ON "$build" > /dev/null || { echo "full.sh: cmake -DPOF_CLUSTER_FULL=ON $build failed"; exit 1; }
trap 'cmake -DPOF_CLUSTER_FULL=OFF "$build" > /dev/null' EXIT
start=$(date +%s)
{
  echo "== tests/cluster/full.sh on $(hostname) $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git -C "$root" log -1 --format='%h %s' 2> /dev/null | cut -c1-80)"
  (cd "$build" && ctest -L cluster-full -V --timeout 1500 -j 1)
  rc=$?
  echo "== full.sh took $(($(date +%s) - start)) s; ctest status $rc"
  exit $rc
} 2>&1 | tee "$log"
