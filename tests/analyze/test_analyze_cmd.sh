#!/bin/bash
# pof analyze end to end on a tiny WRN (depth 10, width 1, base 2: 1360 parameters) pretrained for
# one epoch on 256 Fashion-MNIST images:
#  - the loss at the landscape origin equals pof eval on the same subset (-eval_split train with
#    -data_train_subset 64 = the first 64 training images), relative 1e-6;
#  - 1 and 2 ranks give the same eigenvalues (classifier block and whole network, relative 1e-3
#    of the largest), traces, kappas and landscapes (relative 1e-5);
#  - the HDF5 result file holds the documented datasets; the JSON line is the last line;
#  - bad input: a clear message and a non-zero exit (a model of another dataset too, as in pof eval).
. "$(dirname "$0")/../e2e/common.sh"
convert_fmnist fm.h5 && ok "convert Fashion-MNIST" || { bad "convert"; cat convert.log; }
mpi 1 pretrain -data_file fm.h5 -model_depth 10 -model_width 1 -model_base 2 -data_train_subset 256 -opt_batch 32 -run_epochs 1 -run_dir pre -run_quiet > pre.log 2>&1 && ok "pretrain tiny model" || { bad "pretrain"; tail -5 pre.log; }
A="-data_file fm.h5 -model_in pre/model.h5 -data_train_subset 64 -analyze_split train -analyze_samples 64 -analyze_batch 16 -analyze_top_k 2 -analyze_hutchinson 3 -analyze_network -analyze_weak_batch 32 -analyze_grid1 5 -analyze_grid2 3 -analyze_eigenvectors"
for n in 1 2; do
  mpi $n analyze $A -analyze_out an$n.h5 > an$n.log 2>&1 && ok "analyze at $n ranks" || { bad "analyze at $n ranks"; cat an$n.log; }
done
cat an1.log
mpi 1 eval -data_file fm.h5 -model_in pre/model.h5 -data_train_subset 64 -eval_split train > ev.log 2>&1 && ok "eval on the same subset" || { bad "eval"; cat ev.log; }
/usr/bin/python3 - <<'PY' && ok "origin = pof eval loss; 1 and 2 ranks agree; JSON last line" || bad "values"
import json
a = [json.loads(open(f"an{n}.log").read().strip().splitlines()[-1]) for n in (1, 2)]
ev = json.loads(open("ev.log").read().strip().splitlines()[-1])
L = ev["train_loss"]
for r in a:
    i0 = r["alpha1"].index(0.0)
    assert abs(r["loss0"] - L) <= 1e-6 * L, (r["loss0"], L)
    assert abs(r["land_random"][i0] - L) <= 1e-6 * L and abs(r["land_pof"][i0] - L) <= 1e-6 * L
    print("loss at origin", r["land_random"][i0], "pof eval", L)
def close(x, y, tol, scale=None):
    s = scale if scale is not None else max(abs(x), abs(y), 1e-12)
    assert abs(x - y) <= tol * s, (x, y)
for key, tol in (("cls_eig", 1e-6), ("net_eig", 1e-3)):
    top = max(abs(v) for v in a[0][key])
    for x, y in zip(a[0][key], a[1][key]): close(x, y, tol, top)
    print(key, a[0][key], a[1][key])
close(a[0]["cls_trace"], a[1]["cls_trace"], 1e-6)
close(a[0]["net_trace"], a[1]["net_trace"], 1e-2, abs(a[0]["net_trace"]) + a[0]["net_trace_se"])
close(a[0]["kappa_pof_direction"], a[1]["kappa_pof_direction"], 1e-6)
for k in ("land_random", "land_pof"):
    for x, y in zip(a[0][k], a[1][k]): close(x, y, 1e-5)
PY
/usr/bin/python3 - <<'PY' && ok "HDF5 result file layout" || bad "HDF5 result file"
import h5py, numpy as np
f = h5py.File("an2.h5", "r")
assert f.attrs["samples"] == 64 and f.attrs["ranks"] == 2
for g in ("classifier", "network"):
    e = f[g]["eigenvalues"][()]; assert e.shape == (2,) and e[0] >= e[1]
    assert f[g]["eigenvectors"].shape == (2, f[g].attrs["n"])
    assert np.isfinite(f[g].attrs["trace"]) and f[g].attrs["probes"] == 3
assert f["network"].attrs["n"] == f.attrs["n_params"] and f["classifier"].attrs["n"] == 90
assert [n.decode() for n in f["kappa/names"][()]][0] == "pof_direction"
assert f["landscape/loss_2d"].shape == (3, 3) and f["landscape/alpha1"].shape == (5,)
assert abs(f["landscape/loss_2d"][1, 1] - f.attrs["loss0"]) <= 1e-9 * f.attrs["loss0"]
PY
# bad input
expect_rc nonzero "too many samples" mpi 2 analyze $A -analyze_samples 65
expect_out "analyze_samples 65 exceeds the 64 samples of the train split" "too many samples named"
expect_rc nonzero "bad split" mpi 1 analyze $A -analyze_split valid
expect_out "analyze_split must be test or train" "bad split named"
expect_rc nonzero "top_k too large for the block" mpi 1 analyze $A -analyze_top_k 90 -analyze_network 0
expect_out "analyze_top_k 90 must be in" "top_k named"
expect_rc nonzero "weak batch not divisible" mpi 2 analyze $A -analyze_weak_batch 33
expect_out "analyze_weak_batch 33 is not divisible" "weak batch named"
expect_rc nonzero "missing model" mpi 2 analyze -data_file fm.h5 -model_in nothere.h5
expect_out "nothere.h5" "missing model named"
convert_fmnist other.h5 -convert_name other-data
expect_rc nonzero "model of another dataset" mpi 2 analyze $A -data_file other.h5
expect_out "was trained on 'fashion-mnist', but 'other.h5' holds 'other-data'" "dataset mismatch named (as pof eval does)"
expect_rc nonzero "no model" mpi 1 analyze -data_file fm.h5
expect_out "analyze needs -model_in" "no model named"
expect_rc nonzero "typo option" mpi 1 analyze $A -analyze_top 3
expect_out "analyze_top" "typo named"
expect_rc 0 "help" "$pof" analyze -help
expect_out "analyze_hutchinson" "help lists the options"
finish
