#!/bin/bash
# Flatness of the Fashion-MNIST study models (issue 9's report): `pof analyze` on the pretrained
# model, +SGD and +PoF of seed 1 from analysis/study_fmnist.sh, then analysis/analyze_plots.py.
#   classifier block: top-5 eigenvalues, Hutchinson trace (100 probes), κ along the PoF
#   direction, 1-D landscapes (random filter-normalized and PoF direction, 21 points in [-1, 1]),
#   on the first 1000 test images; a few minutes per model on 2 cores.
#   With --network also the whole network's top-3 eigenvalues and a 10-probe Hutchinson trace on
#   the same 1000 test images (each Hv is two gradient passes, ~4 s here for WRN-16-2).
# Usage: analysis/study_fmnist_analyze.sh [STUDYDIR] [--network]   (POF=path/to/pof overrides)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/runs/study_fmnist}"
net="${2:-}"
pof="${POF:-$root/build/pof}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
mpi() { mpiexec --oversubscribe -n 2 -x OMP_NUM_THREADS=1 "$pof" "$@"; }
mkdir -p "$out/analyze"
files=()
for m in pretrain sgd-1 pof-1; do
  [ -f "$out/$m/model.h5" ] || { echo "study_fmnist_analyze: $out/$m/model.h5 missing (run analysis/study_fmnist.sh first)" >&2; exit 1; }
  mpi analyze -data_file "$out/fashion-mnist.h5" -model_in "$out/$m/model.h5" -analyze_samples 1000 \
    -analyze_top_k 5 -analyze_hutchinson 100 -analyze_grid1 21 -analyze_range1 1 \
    -analyze_out "$out/analyze/$m-cls.h5" | tee "$out/analyze/$m-cls.log"
  files+=("$out/analyze/$m-cls.h5")
  if [ "$net" = --network ]; then
    mpi analyze -data_file "$out/fashion-mnist.h5" -model_in "$out/$m/model.h5" -analyze_samples 1000 \
      -analyze_network -analyze_classifier 0 -analyze_top_k 3 -analyze_hutchinson 10 -analyze_grid1 0 -analyze_fd_eps 1e-5 \
      -analyze_weak_batch 0 -analyze_out "$out/analyze/$m-net.h5" | tee "$out/analyze/$m-net.log"
  fi
done
for f in "${files[@]}"; do
  /usr/bin/python3 "$root/analysis/analyze_plots.py" "$f" --out "${f%.h5}"
done
