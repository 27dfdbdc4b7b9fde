#!/bin/bash
# Wall time of an 8-line small PoF sweep as one `pof sweep` vs 8 sequential `pof posttrain` calls on
# the same ranks (start-up, dataset and model reads amortized in the sweep).
#   bench/sweep_vs_sequential.sh [RANKS=2] [GROUP=RANKS]    (env: POF, WORK, DATA_TRAIN, EPOCHS)
# Data: Fashion-MNIST from Debian's dataset-fashion-mnist, cut to DATA_TRAIN training images (default
# 2048) and 1000 test images; model WRN-10-1 pretrained here for one epoch. Prints both wall times
# and their ratio; the last line is one JSON object.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
R=${1:-2}; G=${2:-$R}
pof=${POF:-$root/build/pof}
work=${WORK:-$(mktemp -d)}
ntrain=${DATA_TRAIN:-2048}; epochs=${EPOCHS:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
mpi() { local n=$1; shift; mpiexec --oversubscribe -n "$n" -x OMP_NUM_THREADS=1 -x HDF5_USE_FILE_LOCKING "$pof" "$@"; }
cd "$work"
FM=/usr/share/datasets/fashion-mnist
"$pof" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz -convert_train_labels $FM/train-labels-idx1-ubyte.gz \
  -convert_test_images $FM/t10k-images-idx3-ubyte.gz -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output fm.h5 > /dev/null
/usr/bin/python3 - "$ntrain" <<'PY'
import h5py, sys
src = h5py.File("fm.h5", "r"); dst = h5py.File("small.h5", "w")
for k in src.attrs: dst.attrs.create(k, src.attrs[k], dtype=src.attrs.get_id(k).dtype)
for sp, n in (("train", int(sys.argv[1])), ("test", 1000)):
    g = dst.create_group(sp)
    for d in ("images", "labels"): g.create_dataset(d, data=src[sp][d][:n])
PY
C="-data_file small.h5 -opt_batch 64 -data_augment 0 -run_quiet -run_epochs $epochs"
mpi "$R" pretrain $C -model_depth 10 -model_width 1 -opt_lr 0.05 -run_dir pre > pre.log
: > grid.txt
for g in 0.5 1.0 1.5 2.0; do for s in 1 2; do echo "-pof_gamma_max $g -run_seed $s" >> grid.txt; done; done
t0=$(date +%s.%N)
mpi "$R" sweep $C -model_in pre/model.h5 -sweep_grid grid.txt -sweep_dir sweep -sweep_group_size "$G" > sweep.log
t1=$(date +%s.%N)
i=0
while read -r line; do
  i=$((i+1)); mpi "$R" posttrain $C -model_in pre/model.h5 -run_dir seq-$i $line > seq-$i.log < /dev/null
done < grid.txt
t2=$(date +%s.%N)
/usr/bin/python3 - "$t0" "$t1" "$t2" "$R" "$G" "$ntrain" <<'PY'
import json, sys, glob
t0, t1, t2 = map(float, sys.argv[1:4])
rows = [json.loads(l) for l in open("sweep/summary.jsonl")]
seq = [json.loads(open(f"seq-{i}.log").read().strip().splitlines()[-1]) for i in range(1, 9)]
run_s_sweep = sum(r["seconds"] for r in rows); run_s_seq = sum(s["seconds"] for s in seq)
print(f"sweep:      {t1 - t0:7.1f} s wall for 8 lines ({int(sys.argv[4])} ranks, groups of {int(sys.argv[5])}); trainer seconds summed {run_s_sweep:.1f}")
print(f"sequential: {t2 - t1:7.1f} s wall for 8 x pof posttrain; trainer seconds summed {run_s_seq:.1f}")
maxd = max(abs(r["test_loss"] - s["test_loss"]) for r, s in zip(rows, seq))
same = maxd < 1e-7
print(f"ratio sequential/sweep = {(t2 - t1) / (t1 - t0):.3f}; same test losses: {same} (max |difference| {maxd:.2e}"
      + (")" if sys.argv[4] == sys.argv[5] else f"; lines ran on {sys.argv[5]} rank(s), the sequential runs on {sys.argv[4]}: equal only to rounding)"))
print(json.dumps({"bench": "sweep_vs_sequential", "ranks": int(sys.argv[4]), "group": int(sys.argv[5]), "n_train": int(sys.argv[6]), "lines": 8,
                  "sweep_wall_s": round(t1 - t0, 2), "sequential_wall_s": round(t2 - t1, 2), "ratio": round((t2 - t1) / (t1 - t0), 3), "same_results": same}))
PY
