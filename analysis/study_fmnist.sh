#!/bin/bash
# The Fashion-MNIST PoF study (issue 6), fixed before it is run:
#   one WRN-16-2 pretrained on the full training set for 6 epochs (SGD, lr 0.1 x 0.2 at 3 and 5,
#   batch 128), then for seeds 1, 2, 3 both arms from that model for the same 2 epochs at the same
#   learning rate (the pretraining schedule read at epoch 6: 0.004): PoF (global range, defaults of
#   POF.md) and the plain-SGD control (classifier frozen). Each post-training epoch also measures
#   the train/test loss gap on 10000 training images. Writes runs/study_fmnist/study.csv via
#   analysis/pof_compare.py. 50 minutes on 2 quiet cores (2 ranks x 1 thread, 2026-12-02: pretraining
#   870 s at 431 images/s, each seed ~11.5 min: SGD ~310 s, PoF ~385 s); 109 min with other jobs on
#   the cores (2026-11-28). Same numbers both times: the study is deterministic.
# Usage: analysis/study_fmnist.sh [OUTDIR]   (POF=path/to/pof overrides the binary;
#        STAGES=pretrain stops after the pretrained model and its evaluations, for other studies
#        from the same model, e.g. analysis/study_gamma.sh; PRE_EPOCHS=20 PRE_MILESTONES=6,12,16,20
#        pretrains longer with another schedule: use a new OUTDIR for it)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/runs/study_fmnist}"
pof="${POF:-$root/build/pof}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
mkdir -p "$out"
mpi() { mpiexec --oversubscribe -n 2 -x OMP_NUM_THREADS=1 "$pof" "$@"; }
FM=/usr/share/datasets/fashion-mnist
data="$out/fashion-mnist.h5"
[ -f "$data" ] || "$pof" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz \
  -convert_train_labels $FM/train-labels-idx1-ubyte.gz -convert_test_images $FM/t10k-images-idx3-ubyte.gz \
  -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output "$data"
# checkpoints make every stage resumable: rerunning the script continues where it stopped
mpi pretrain -data_file "$data" -model_depth 16 -model_width 2 -run_epochs "${PRE_EPOCHS:-6}" -opt_batch 128 -opt_lr 0.1 \
  -opt_milestones "${PRE_MILESTONES:-3,5}" -opt_factor 0.2 -run_dir "$out/pretrain" -run_seed 0 | tee "$out/pretrain.log"
mpi eval -data_file "$data" -model_in "$out/pretrain/model.h5" | tee "$out/eval-pretrained.log"
mpi eval -data_file "$data" -model_in "$out/pretrain/model.h5" -eval_split train | tee "$out/eval-pretrained-train.log"
[ "${STAGES:-all}" = pretrain ] && exit 0
for seed in 1 2 3; do
  for arm in pof sgd; do
    mode=global; [ $arm = sgd ] && mode=off
    [ -f "$out/$arm-$seed/model.h5" ] && continue
    mpi posttrain -data_file "$data" -model_in "$out/pretrain/model.h5" -run_epochs 2 -pof_mode $mode \
      -run_gap -run_gap_samples 10000 -run_dir "$out/$arm-$seed" -run_seed $seed | tee "$out/$arm-$seed.log"
  done
done
/usr/bin/python3 "$root/analysis/pof_compare.py" "$out" --csv "$out/study.csv"
# figures (reading only; rerunnable on their own): learning curves of seed 1, PoF diagnostics of
# every seed, the pretrained / +SGD / +PoF table over seeds
/usr/bin/python3 "$root/analysis/curves.py" "$out/pretrain" "$out/sgd-1" "$out/pof-1" --out "$out/plots"
pofruns=(); for d in "$out"/pof-[0-9]*; do [ -d "$d" ] && pofruns+=("$d"); done   # not the pof-N.log files
/usr/bin/python3 "$root/analysis/pof_diag.py" "${pofruns[@]}" --out "$out/plots"
/usr/bin/python3 "$root/analysis/seeds.py" "$out" --out "$out/plots"
