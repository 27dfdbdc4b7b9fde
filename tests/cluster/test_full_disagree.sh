#!/bin/bash
# cluster-full (f): nodes that disagree, on a 2-node Slurm whose nodes each have their own
# directory at $SLURM_NODE_LOCAL (a node-local path such as /scratch: slurm_node_start binds node
# N's $SLURM_TMP/nodelocal/N there in the node's mount namespace). 2-node 2-rank pretrain jobs
# (jobs/pretrain.sbatch, mpirun):
#  - the dataset at the node-local path, identical copies on both nodes: the job finishes (no false
#    alarm);
#  - another dataset of the same shape on pofn2 only: refused before any step, one error line naming
#    pofn2 and pofn1, job status 1, not requeued;
#  - a posttrain from identical node-local copies of the model (-model_in) and the dataset
#    finishes; with pofn2's model copy edited it is refused, naming both nodes;
#  - the run directory at the node-local path: missing on pofn2 (rank 0 made it on pofn1), or
#    another directory there: refused, naming pofn2.
# Before 2026-12-08 the first job hung in MPI_File_open (Open MPI's "lockedfile" shared file
# pointer, whose lock file the other node cannot see; pof now selects "individual", main.c).
. "$(dirname "$0")/common.sh" "$1" "$2" 2
L="$SLURM_NODE_LOCAL"
tiny d.h5 1 16 16 4 64 32
/usr/bin/python3 "$src/tests/shell/make_other.py" dataset d.h5 other.h5 || bad "other dataset"
for n in pofn1 pofn2; do cp d.h5 "$SLURM_TMP/nodelocal/$n/d.h5"; done
[ ! -e "$L/d.h5" ] && ok "the node-local path $L/d.h5 is not on this host, only on the nodes" || bad "$L/d.h5 is visible on the host"
OPTS=(-model_depth 10 -model_width 1 -model_base 4 -opt_batch 16 -run_epochs 1)
# job ID DESC PATTERN OUT : the job failed with exit 1, not requeued, one error line matching PATTERN
refused() {
  local st ec n
  st=$(slurm_job_field "$1" JobState); ec=$(slurm_job_field "$1" ExitCode)
  [ "$st" = FAILED ] && [ "$ec" = 1:0 ] && [ "$(slurm_job_field "$1" Restarts)" = 0 ] \
    && ok "$2: job $1 $st, exit $ec, not requeued" || { bad "$2: job $1 $st exit $ec"; tail -30 "$4"; }
  n=$(grep -c '^pof: error:' "$4")
  [ "$n" = 1 ] && grep -qE -- "$3" "$4" && ok "$2: $(grep '^pof: error:' "$4" | cut -c1-260)" || { bad "$2: $n error lines"; cat "$4"; }
}
submit --nodes=2 --ntasks=2 --ntasks-per-node=1 -o same-%j.out "$src/jobs/pretrain.sbatch" -data_file "$L/d.h5" "${OPTS[@]}" -run_dir same && a=$JOB
slurm_wait_job "$a" 180 || bad "job $a did not end in 180 s"
job_done "$a" "identical node-local copies of the dataset on pofn1 and pofn2: the job finishes" || tail -30 same-$a.out

cp other.h5 "$SLURM_TMP/nodelocal/pofn2/d.h5"
submit --nodes=2 --ntasks=2 --ntasks-per-node=1 -o other-%j.out "$src/jobs/pretrain.sbatch" -data_file "$L/d.h5" "${OPTS[@]}" -run_dir other && b=$JOB
slurm_wait_job "$b" 120 || bad "job $b did not end in 120 s"
refused "$b" "another dataset at the node-local path on pofn2" \
  "^pof: error: dataset file '$L/d.h5' differs between nodes \(rank 1 on pofn2: .*; rank 0 on pofn1: .*\): every node must see the same file" other-$b.out
ls other/ckpt-*.h5 > /dev/null 2>&1 && bad "a checkpoint was written" || ok "no step was trained"

# the model: identical node-local copies serve; a copy that differs on pofn2 is refused
cp d.h5 "$SLURM_TMP/nodelocal/pofn2/d.h5"
for n in pofn1 pofn2; do cp same/model.h5 "$SLURM_TMP/nodelocal/$n/m.h5"; done
P=(-data_file "$L/d.h5" -model_in "$L/m.h5" -opt_batch 16 -run_epochs 1)
submit --nodes=2 --ntasks=2 --ntasks-per-node=1 -o post-%j.out "$src/jobs/posttrain.sbatch" "${P[@]}" -run_dir post && c=$JOB
slurm_wait_job "$c" 180 || bad "job $c did not end in 180 s"
job_done "$c" "posttrain from identical node-local copies of the model and the dataset: the job finishes" || tail -30 post-$c.out
/usr/bin/python3 "$src/tests/shell/make_other.py" model same/model.h5 "$SLURM_TMP/nodelocal/pofn2/m.h5" || bad "edit pofn2's model copy"
submit --nodes=2 --ntasks=2 --ntasks-per-node=1 -o postx-%j.out "$src/jobs/posttrain.sbatch" "${P[@]}" -run_dir postx && d=$JOB
slurm_wait_job "$d" 120 || bad "job $d did not end in 120 s"
refused "$d" "another model at the node-local path on pofn2" \
  "^pof: error: model file '$L/m.h5' differs between nodes \(rank 1 on pofn2: .*; rank 0 on pofn1: .*\): every node must see the same file" postx-$d.out
ls postx/ckpt-*.h5 > /dev/null 2>&1 && bad "a checkpoint was written" || ok "no step was trained"

# the run directory on the node-local path: pofn2 does not see what rank 0 made, or sees another
submit --nodes=2 --ntasks=2 --ntasks-per-node=1 -o rundir-%j.out "$src/jobs/pretrain.sbatch" -data_file d.h5 "${OPTS[@]}" -run_dir "$L/run" && e=$JOB
slurm_wait_job "$e" 120 || bad "job $e did not end in 120 s"
refused "$e" "a run directory on a node-local path, missing on pofn2" \
  "^pof: error: run directory $L/run is not visible on every node \(rank 1 on pofn2: cannot see it \(No such file or directory\); rank 0 on pofn1: sees it\): it must be on a file system every node sees" rundir-$e.out
mkdir -p "$SLURM_TMP/nodelocal/pofn2/run2"
submit --nodes=2 --ntasks=2 --ntasks-per-node=1 -o rundir2-%j.out "$src/jobs/pretrain.sbatch" -data_file d.h5 "${OPTS[@]}" -run_dir "$L/run2" && f=$JOB
slurm_wait_job "$f" 120 || bad "job $f did not end in 120 s"
refused "$f" "a run directory on a node-local path, another directory on pofn2" \
  "^pof: error: run directory $L/run2 is not the same directory on every node \(rank 1 on pofn2: no $L/run2/.pof-lock \(No such file or directory\); rank 0 on pofn1: $L/run2/.pof-lock holds 'pid [0-9]+ host pofn1 token [0-9a-f]{16}'\)" rundir2-$f.out
cluster_finish
