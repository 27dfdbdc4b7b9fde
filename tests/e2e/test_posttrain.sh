#!/bin/bash
# End to end PoF: post-training from a pretrained model at 2 ranks in global mode, the SGD control
# (classifier frozen and trained), local mode; θ0 is bit-identical after post-training while the
# feature extractor changed; the PoF diagnostics are in the metrics.
. "$(dirname "$0")/common.sh"
convert_fmnist fm.h5 || bad "convert"
COMMON="-data_file fm.h5 -data_train_subset 2048 -opt_batch 64 -data_augment 0"
mpi 2 pretrain $COMMON -model_depth 10 -model_width 1 -run_epochs 1 -opt_lr 0.05 -run_dir pre > pre.log 2>&1 && ok "pretrain" || { bad "pretrain"; tail pre.log; }
for arm in "pof -pof_mode global -run_gap -run_gap_samples 1000 -run_step_log" "sgd -pof_mode off" "sgdc -pof_mode off -pof_train_classifier" "loc -pof_mode local"; do
  set -- $arm; name=$1; shift
  mpi 2 posttrain $COMMON -model_in pre/model.h5 -run_epochs 1 -run_dir $name "$@" > $name.log 2>&1 && ok "posttrain $name" || { bad "posttrain $name"; tail $name.log; }
done
/usr/bin/python3 - <<'PY' && ok "theta0 bit-identical, feature extractor changed (PoF, SGD control); classifier trained with -pof_train_classifier" || bad "parameter checks"
import h5py, numpy as np, json
pre = h5py.File("pre/model.h5")
P0 = pre["params"][:]; nf = int(pre.attrs["n_feature"])
for name, frozen in (("pof", True), ("sgd", True), ("sgdc", False), ("loc", True)):
    f = h5py.File(f"{name}/model.h5"); P = f["params"][:]
    same = np.array_equal(P[nf:].view(np.uint64), P0[nf:].view(np.uint64))
    assert same == frozen, (name, "classifier", same)
    assert np.abs(P[:nf] - P0[:nf]).max() > 1e-4, (name, "features did not move")
    if name != "sgd" and name != "sgdc": assert np.array_equal(f["theta0"][:], P0[nf:]), name
m = json.loads(open("pof/metrics.jsonl").readline())
assert m["pof_mode"] == "global" and "loss_gap" in m
for k in ("eta_star_mean", "eta_max_mean", "gamma_mean", "pert_norm_mean", "kappa_mean", "L0_mean", "capped_fraction"):
    assert k in m["pof"], k
assert 0 <= m["pof"]["gamma_mean"] < 2
steps = [json.loads(l) for l in open("pof/steps.jsonl")]
assert len(steps) == 2048 // 64 and all(0 <= s["gamma"] < 2 and s["eta_star"] <= s["eta_max"] for s in steps)
PY
# the study table script on these runs (one seed)
mkdir -p study && cp -r pof study/pof-1 && cp -r sgd study/sgd-1
mpi 2 eval -data_file fm.h5 -model_in pre/model.h5 > study/eval-pretrained.log 2>&1
/usr/bin/python3 "$src/analysis/pof_compare.py" study > compare.log 2>&1 && /usr/bin/python3 - <<'PY' && ok "pof_compare.py: CSV with the seed, mean and std rows" || { bad "pof_compare.py"; cat compare.log; }
import csv, json
rows = list(csv.DictReader(open("study/study.csv")))
assert [r["seed"] for r in rows] == ["1", "mean", "std"], rows
r = rows[0]
pof = json.loads(open("pof/metrics.jsonl").readlines()[-1]); sgd = json.loads(open("sgd/metrics.jsonl").readlines()[-1])
assert abs(float(r["pof_error"]) - pof["test_error"]) < 1e-9 and abs(float(r["sgd_error"]) - sgd["test_error"]) < 1e-9
assert abs(float(r["diff_error_pof_minus_sgd"]) - (pof["test_error"] - sgd["test_error"])) < 1e-9
assert float(r["step_cost_ratio_pof_over_sgd"]) > 0
PY
expect_rc nonzero "posttrain without -model_in" mpi 2 posttrain $COMMON -run_dir x
expect_out "needs -model_in" "missing model named"
expect_rc nonzero "indivisible weak batch" mpi 2 posttrain $COMMON -model_in pre/model.h5 -pof_weak_batch 33 -run_dir y
expect_out "-pof_weak_batch 33 is not divisible" "weak batch named"
# the shape comes from the model file: shape options that disagree are an error, matching ones are fine
expect_rc nonzero "posttrain -model_depth other than the file's" mpi 2 posttrain $COMMON -model_in pre/model.h5 -model_depth 16 -run_dir z
expect_out "-model_depth 16 does not match model file pre/model.h5, a WRN-10-1 .*drop -model_depth" "mismatching depth named"
[ -e z ] && bad "mismatching depth: run directory created" || ok "mismatching depth: nothing written"
expect_rc nonzero "eval -model_width other than the file's" mpi 2 eval -data_file fm.h5 -model_in pre/model.h5 -model_width 4
expect_out "-model_width 4 does not match model file" "mismatching width named"
/usr/bin/python3 -c "import json; c = json.load(open('pof/config.json')); assert (c['model_depth'], c['model_width'], c['model_classes']) == (10, 1, 10), c" \
  && ok "config.json records the file's shape" || bad "config.json shape"
# extending a run: the same options resume quietly; other options are named and the old config kept
cp -r loc loc2
mpi 2 posttrain $COMMON -model_in pre/model.h5 -run_epochs 2 -run_dir loc -pof_mode local > ext.log 2>&1 && ok "extend with the same options" || { bad "extend"; tail ext.log; }
grep -q "warning" ext.log && bad "same options: warning printed" || ok "same options: no warning"
mpi 2 posttrain $COMMON -model_in pre/model.h5 -run_epochs 2 -run_dir loc2 -pof_mode local -pof_gamma_max 1.5 > ext2.log 2>&1 && ok "extend with another -pof_gamma_max" || { bad "extend 2"; tail ext2.log; }
grep -q "posttrain: warning: resuming with 1 option(s) other than the checkpoint's: pof_gamma_max 2 -> 1.5; .*kept as loc2/config-before-step-64.json" ext2.log \
  && ok "changed option named" || { bad "changed option warning"; grep warning ext2.log; }
/usr/bin/python3 -c "import json; assert json.load(open('loc2/config-before-step-64.json'))['pof_gamma_max'] == 2 and json.load(open('loc2/config.json'))['pof_gamma_max'] == 1.5" \
  && ok "earlier config.json kept, new one written" || bad "config files after a changed resume"
# resuming does not need -model_in any more (scratch space may have lost it)
mv pre/model.h5 pre.model.away
mpi 2 posttrain $COMMON -model_in pre/model.h5 -run_epochs 3 -run_dir loc -pof_mode local > ext3.log 2>&1 && ok "resume with -model_in gone" || { bad "resume with -model_in gone"; tail -3 ext3.log; }
mv pre.model.away pre/model.h5
# a pretraining run directory is not a post-training run to resume (nor the reverse); it stays as it was
sum_pre=$(cat pre/*.h5 pre/metrics.jsonl | md5sum)
expect_rc nonzero "posttrain into the pretrain run directory" mpi 2 posttrain $COMMON -model_in pre/model.h5 -run_dir pre
expect_out "run directory 'pre' holds a pretrain run .*not a posttrain run to resume" "pretrain directory named"
expect_rc nonzero "pretrain into a posttrain run directory" mpi 2 pretrain $COMMON -model_depth 10 -model_width 1 -run_epochs 2 -run_dir pof
expect_out "run directory 'pof' holds a posttrain run" "posttrain directory named"
[ "$(cat pre/*.h5 pre/metrics.jsonl | md5sum)" = "$sum_pre" ] && ok "pretrain directory unchanged" || bad "pretrain directory changed"
expect_rc nonzero "a dataset as -model_in" mpi 2 posttrain $COMMON -model_in fm.h5 -run_dir w
expect_out "fm.h5 is not a pof model or checkpoint .*: it is a dataset written by pof convert" "dataset named as such"
[ -e w ] && bad "dataset as model: run directory created" || ok "dataset as model: nothing written"
finish
