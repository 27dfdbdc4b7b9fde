#!/bin/bash
# Nodes that disagree (issue 32), emulated on one host: rank 1 of a 2-rank pretrain runs in a mount
# namespace of its own (unshare -m), where a bind mount shows it another file or directory at the
# same path, as a node-local path on another node would.
#  - an identical copy of the dataset at the same path: the run finishes (no false alarm);
#  - another dataset of the same shape at the same path: refused before any step, one error line
#    naming rank 1 and its host;
#  - the model file (-model_in) of a posttrain: rank 1 sees an edited copy: refused, naming it;
#  - the run directory: rank 1 sees an empty directory at its path: refused, naming rank 1 and host.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1
workdir disagree
unshare -m true || { bad "unshare -m does not work here (needs root)"; finish; exit 1; }
/usr/bin/python3 "$src/tests/slurm/make_data.py" d.h5 1 16 16 4 64 32 > /dev/null || { bad "dataset"; finish; exit 1; }
cp d.h5 same.h5
/usr/bin/python3 "$src/tests/shell/make_other.py" dataset d.h5 other.h5 || bad "other dataset"
OPTS="-data_file d.h5 -model_depth 10 -model_width 1 -model_base 4 -opt_batch 16 -run_epochs 1 -run_quiet"
host=$(hostname)
# two RUN_DIR BIND_SRC BIND_DST : 2 ranks, rank 1 with BIND_SRC bound over BIND_DST (output in $T_OUT)
two() {
  local d="$1" bs="$2" bd="$3"
  timeout 120 "$MPIEXEC" --oversubscribe -n 1 "$pof" pretrain $OPTS -run_dir "$d" \
    : -n 1 unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$bs" "$bd" "$pof" pretrain $OPTS -run_dir "$d"
}
one_error() { # PATTERN DESC : exactly one error line, matching PATTERN
  local n; n=$(grep -c '^pof: error:' "$T_OUT")
  [ "$n" = 1 ] && grep -qE -- "$1" "$T_OUT" && ok "$2: $(grep '^pof: error:' "$T_OUT" | cut -c1-240)" || { bad "$2: $n error lines"; cat "$T_OUT"; }
}
expect_rc 0 "rank 1 sees an identical copy at the dataset's path: the run finishes" two r-same "$PWD/same.h5" "$PWD/d.h5"
expect_rc 1 "rank 1 sees another dataset at the same path: refused" two r-other "$PWD/other.h5" "$PWD/d.h5"
one_error "^pof: error: dataset file 'd.h5' differs between nodes \(rank 1 on $host: .*; rank 0 on $host: .*\): every node must see the same file" "other dataset"
[ ! -e r-other/ckpt-0000000004.h5 ] && ok "no step was trained" || bad "a checkpoint was written"
# the model (-model_in, read by every rank): rank 1 sees another model at the same path
cp r-same/model.h5 m.h5
/usr/bin/python3 "$src/tests/shell/make_other.py" model m.h5 m-other.h5 || bad "edit the model copy"
POPTS="-data_file d.h5 -model_in m.h5 -opt_batch 16 -run_epochs 1 -run_quiet"
post_two() {
  timeout 120 "$MPIEXEC" --oversubscribe -n 1 "$pof" posttrain $POPTS -run_dir "$1" \
    : -n 1 unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$2" "$3" "$pof" posttrain $POPTS -run_dir "$1"
}
expect_rc 1 "rank 1 sees another model at the -model_in path: refused" post_two p-other "$PWD/m-other.h5" "$PWD/m.h5"
one_error "^pof: error: model file 'm.h5' differs between nodes \(rank 1 on $host: .*; rank 0 on $host: .*\): every node must see the same file" "other model"
mkdir -p r-dir empty
expect_rc 1 "rank 1 sees another (empty) directory at the run directory's path: refused" two r-dir "$PWD/empty" "$PWD/r-dir"
one_error "^pof: error: run directory r-dir is not the same directory on every node \(rank 1 on $host: no r-dir/.pof-lock \(No such file or directory\); rank 0 on $host: r-dir/.pof-lock holds 'pid [0-9]+ host $host token [0-9a-f]{16}'\): it must be on a file system every node sees" "run directory"
finish
