#!/bin/bash
# The paper's experiments (jobs/options/*.opts): every file parses (`pof config`), and runs one
# training step on a synthetic dataset of its shape (CIFAR/SVHN 3x32x32 with 10 or 100 classes,
# Fashion-MNIST 1x28x28). WRN-28-10 is replaced by WRN-10-1 on the command line (a WRN-28-10
# step at batch 256 takes minutes on 2 shared cores, and its 36.5M-parameter checkpoints ~0.6 GB);
# everything else (batch 256, optimizer, schedule, augmentation, PoF settings) comes from the file.
# Each pretrain file runs on 256 samples (one step), each posttrain file one step from the SGD
# pretrain model of its dataset.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1
workdir options-test; work="$T_WORK"
opts="$src/jobs/options"
TINY="-model_depth 10 -model_width 1 -run_epochs 1 -data_train_subset 256 -run_gap_samples 256 -run_quiet"
declare -A shape=([cifar10]="3 32 32 10" [cifar100]="3 32 32 100" [svhn]="3 32 32 10" [fmnist]="1 28 28 10")
n=$(ls "$opts"/*.opts | wc -l)
[ "$n" -eq 16 ] && ok "16 option files (4 datasets x SGD/SAM pretrain, PoF/SGD post-train)" || bad "$n option files, want 16"
for ds in cifar10 cifar100 svhn fmnist; do
  /usr/bin/python3 "$src/tests/slurm/make_data.py" "$ds.h5" ${shape[$ds]} 256 32 "$ds" > /dev/null || bad "make $ds.h5"
  for f in "$opts/$ds"-pretrain-{sgd,sam}.opts "$opts/$ds"-posttrain-{pof,sgd}.opts; do
    b=$(basename "$f" .opts)
    # the global step after one step: 1 for pretrain, 2 for posttrain (continues the pretrain count)
    case "$b" in *pretrain*) cmd=pretrain; step=1; extra=() ;; *) cmd=posttrain; step=2; extra=(-model_in "$ds-pretrain-sgd/model.h5") ;; esac
    if "$pof" config -config_command "$cmd" -options_file "$f" -data_file "$ds.h5" "${extra[@]}" > "$b.cfg" 2>&1 &&
      /usr/bin/python3 - "$b.cfg" "$b" << 'PY'; then
import json, sys
c = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); b = sys.argv[2]
assert c["model_depth"] == 28 and c["model_width"] == 10 and c["opt_batch"] == 256, c
assert c["opt_momentum"] == 0.9 and c["opt_nesterov"] and abs(c["opt_wd"] - 5e-4) < 1e-12, c
if "pretrain" in b:
    assert c["run_epochs"] == 200 and c["opt_milestones"] == [60, 120, 160, 200] and c["opt_factor"] == 0.2, c
    assert c["opt_lr"] == (0.01 if b.startswith("svhn") else 0.1), c["opt_lr"]
    assert c["opt_kind"] == b.rsplit("-", 1)[1], c["opt_kind"]
else:
    assert c["run_epochs"] == (50 if b.startswith("svhn") else 10), c["run_epochs"]
    assert c["pof_mode"] == ("global" if b.endswith("pof") else "off"), c["pof_mode"]
PY
      ok "$b parses with the paper's settings"
    else
      bad "$b: pof config"; cat "$b.cfg"
    fi
    if timeout 120 "$pof" "$cmd" -options_file "$f" -data_file "$ds.h5" "${extra[@]}" $TINY -run_dir "$b" > "$b.log" 2>&1 &&
      grep -q "\"global_step\":$step," "$b.log"; then
      ok "$b: one step of $cmd on synthetic ${shape[$ds]// /x} data ($(grep -o '"test_error":[0-9.]*' "$b.log"))"
    else
      bad "$b: one step of $cmd"; tail -5 "$b.log"
    fi
  done
done
finish
