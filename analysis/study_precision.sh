#!/bin/bash
# bf16 vs fp32 training of the study model (issue 11), fixed before it is run: the WRN-16-2 of
# analysis/study_fmnist.sh (full Fashion-MNIST training set, 6 epochs, SGD lr 0.1 x 0.2 at epochs
# 3 and 5, batch 128, 2 ranks x 1 thread) pretrained with -precision fp32 and with -precision bf16
# for seeds 0, 1, 2 (seed 0 is the study's own model). Every model is then evaluated on the
# 10000 test images in both precisions (a bf16-trained model in fp32 and the other way round).
# Writes OUTDIR/precision.csv (analysis/precision_compare.py: per seed and precision the test
# error and loss, last-epoch train loss, images/s; mean and std rows; paired bf16 - fp32).
# Checkpoints make it resumable: rerunning continues where it stopped.
# Usage: analysis/study_precision.sh [OUTDIR] [SEEDS]   (POF=path/to/pof overrides the binary;
# PRECISIONS="fp32" trains only those precisions, e.g. to redo fp32 after an fp32-only change)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/runs/study_precision}"
seeds="${2:-0 1 2}"
pof="${POF:-$root/build/pof}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
mkdir -p "$out"
mpi() { mpiexec --oversubscribe -n 2 -x OMP_NUM_THREADS=1 "$pof" "$@"; }
FM=/usr/share/datasets/fashion-mnist
data="$out/fashion-mnist.h5"
[ -f "$data" ] || "$pof" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz \
  -convert_train_labels $FM/train-labels-idx1-ubyte.gz -convert_test_images $FM/t10k-images-idx3-ubyte.gz \
  -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output "$data"
for seed in $seeds; do
  for prec in ${PRECISIONS:-fp32 bf16}; do
    d="$out/$prec-$seed"
    [ -f "$d/model.h5" ] || mpi pretrain -data_file "$data" -model_depth 16 -model_width 2 -run_epochs 6 -opt_batch 128 \
      -opt_lr 0.1 -opt_milestones 3,5 -opt_factor 0.2 -run_dir "$d" -run_seed "$seed" -precision "$prec" | tee "$out/$prec-$seed.log"
    for ev in fp32 bf16; do
      [ -f "$d/eval-$ev.json" ] || mpi eval -data_file "$data" -model_in "$d/model.h5" -precision "$ev" | tail -1 > "$d/eval-$ev.json"
    done
  done
done
if [ -n "${PRECISIONS:-}" ]; then # a partial run: the paired comparison needs both precisions of every seed
  echo "study_precision: PRECISIONS=$PRECISIONS: models and eval-*.json written; run without PRECISIONS for precision.csv"
  exit 0
fi
/usr/bin/python3 "$root/analysis/precision_compare.py" "$out" --csv "$out/precision.csv"
