#!/bin/bash
# γ_max scan of the Fashion-MNIST study (README "Fashion-MNIST: pretrained / +SGD / +PoF" left
# open whether a smaller γ_max changes the sign of PoF - SGD there). Fixed before it is run: the
# study's WRN-16-2 (pretrained by analysis/study_fmnist.sh STAGES=pretrain into the same OUTDIR,
# or reused from a full study run there), then seed 1, 2 epochs from it as in the study, one
# `pof sweep` of 2 ranks in one group over: the plain-SGD control, and PoF (global range) with
# γ_max 0.25, 0.5, 1 and 2 (2 is the study's PoF setting; the study ran before Winograd became
# the default convolution, so the pretrained model and every figure here are this run's own).
# Each run measures the train/test loss gap on 10000 training images. Writes OUTDIR/gamma/summary.csv
# (pof sweep) and OUTDIR/gamma/gamma.csv (+ the loss gap and PoF diagnostics of each line).
# About 16 min for the pretraining (skipped when OUTDIR/pretrain is finished) + 5 x 5.5-7.5 min
# (2026-12-03 on 2 cores: 52 min in all).
# Usage: analysis/study_gamma.sh [OUTDIR]   (POF=path/to/pof overrides the binary; SEEDS="1 2 3"
#        and GAMMAS="1 2" choose other seeds and gamma_max values, NAME=gamma-seeds another sweep
#        directory OUTDIR/NAME: one SGD line and one line per gamma_max for every seed; EPOCHS=3
#        post-trains longer; PRE_EPOCHS and PRE_MILESTONES pass to the pretraining, see
#        analysis/study_fmnist.sh)
# The longer study of README "A longer pretraining" (about 90 min on 2 cores):
#   PRE_EPOCHS=20 PRE_MILESTONES=6,12,16,20 EPOCHS=3 GAMMAS="1 2" analysis/study_gamma.sh runs/study_long
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/runs/study_fmnist}"
pof="${POF:-$root/build/pof}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
STAGES=pretrain POF="$pof" "$root/analysis/study_fmnist.sh" "$out" > /dev/null   # resumable; quick when done
name="${NAME:-gamma}"
grid="$out/$name.grid"
{
  echo "# the study (${EPOCHS:-2} epochs): per seed the SGD control, then PoF by gamma_max"
  for seed in ${SEEDS:-1}; do
    s=""; [ "$seed" = 1 ] || s=" -run_seed $seed"   # seed 1 comes from the command line
    echo "-pof_mode off$s"
    for g in ${GAMMAS:-0.25 0.5 1 2}; do echo "-pof_gamma_max $g$s"; done
  done
} > "$grid"
mpiexec --oversubscribe -n 2 -x OMP_NUM_THREADS=1 "$pof" sweep -sweep_grid "$grid" -sweep_dir "$out/$name" \
  -sweep_group_size 2 -data_file "$out/fashion-mnist.h5" -model_in "$out/pretrain/model.h5" -run_epochs "${EPOCHS:-2}" \
  -pof_mode global -run_gap -run_gap_samples 10000 -run_seed 1 | tee "$out/$name.log"
/usr/bin/python3 - "$out/$name" <<'PY'
import csv, json, os, re, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "summary.csv"))))
out = []
for r in rows:
    m = [json.loads(l) for l in open(os.path.join(r["run_dir"], "metrics.jsonl"))][-1]
    p = m.get("pof") or {}
    seed = re.search(r"-run_seed (\d+)", r["options"])
    out.append({"options": r["options"], "seed": int(seed.group(1)) if seed else 1, "status": r["status"], "test_error": r["test_error"], "test_loss": r["test_loss"],
                "loss_gap": m.get("loss_gap"), "gamma_mean": p.get("gamma_mean"), "eta_star_mean": p.get("eta_star_mean"),
                "pert_norm_mean": p.get("pert_norm_mean"), "kappa_mean": p.get("kappa_mean")})
with open(os.path.join(d, "gamma.csv"), "w", newline="") as f:  # in OUTDIR/NAME
    w = csv.DictWriter(f, fieldnames=list(out[0])); w.writeheader(); w.writerows(out)
for o in out: print(" | ".join(f"{k} {v}" for k, v in o.items()))
PY
