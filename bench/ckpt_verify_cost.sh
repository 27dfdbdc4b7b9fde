#!/bin/bash
# Cost of the read-back verification of a checkpoint (every checkpoint is read back and its CRC-32
# checksums checked before it is renamed, src/io/ckpt.c) on WRN-28-10 (36.5 M parameters: /params
# and /momentum in double, about 0.58 GB): one pretraining step at 1 rank, a checkpoint after it,
# and the write and verify seconds that metrics.jsonl records for it.
# usage: bench/ckpt_verify_cost.sh [POF] [DIR]   (POF default build/pof; DIR a scratch directory)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pof="${1:-$root/build/pof}"; dir="${2:-$(mktemp -d /tmp/pof-verify-cost.XXXXXX)}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" HDF5_USE_FILE_LOCKING=FALSE
cd "$dir"
FM=/usr/share/datasets/fashion-mnist
[ -e tiny.h5 ] || { "$pof" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz \
  -convert_train_labels $FM/train-labels-idx1-ubyte.gz -convert_test_images $FM/t10k-images-idx3-ubyte.gz \
  -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output fm.h5 > /dev/null && "$root/tests/resume/make_tiny.py" fm.h5 tiny.h5 16 8 && rm fm.h5; }
rm -rf run
"$pof" pretrain -data_file tiny.h5 -model_depth 28 -model_width 10 -opt_batch 8 -run_epochs 1 -ckpt_every_steps 1 \
  -ckpt_keep 1 -run_quiet -run_dir run > run.log
ls -l run/ckpt-*.h5
/usr/bin/python3 - <<'PY'
import json
for r in map(json.loads, open("run/metrics.jsonl")):
    for c in r.get("checkpoints", []):
        print(f"checkpoint at step {c['global_step']}: write {c['write_seconds']:.2f} s, of which read-back verification {c['verify_seconds']:.2f} s")
PY
