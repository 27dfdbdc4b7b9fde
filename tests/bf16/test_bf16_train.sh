#!/bin/bash
# bf16 end to end on tiny data: pretraining in bf16 converges like fp32 (same seed, batches and
# init; final train loss within 0.05 + 10% of fp32's, test error within 5 points), the model file
# holds float master weights (precision recorded in config.json), PoF post-training runs in bf16
# with θ0 untouched, and `pof eval -precision bf16` agrees with fp32 eval of the same model
# (test error within 1 point, loss within 2%).
. "$(dirname "$0")/../e2e/common.sh"
convert_fmnist fm.h5 || bad "convert"
COMMON="-data_file fm.h5 -data_train_subset 2048 -opt_batch 64 -data_augment 0"
PRE="$COMMON -model_depth 10 -model_width 1 -run_epochs 2 -opt_lr 0.05 -opt_milestones 1 -opt_factor 0.2"
for p in fp32 bf16; do
  mpi 2 pretrain $PRE -precision $p -run_dir pre_$p > pre_$p.log 2>&1 && ok "pretrain $p" || { bad "pretrain $p"; tail pre_$p.log; }
done
/usr/bin/python3 - <<'PY' && ok "bf16 pretraining converges like fp32" || bad "bf16 vs fp32 pretraining"
import json
r = {p: [json.loads(l) for l in open(f"pre_{p}/metrics.jsonl")] for p in ("fp32", "bf16")}
for p in r: print(p, [(round(e["train_loss"], 4), round(e["test_error"], 2)) for e in r[p]])
a, b = r["fp32"][-1], r["bf16"][-1]
assert r["bf16"][-1]["train_loss"] < r["bf16"][0]["train_loss"], "bf16 loss did not decrease"
assert abs(b["train_loss"] - a["train_loss"]) <= 0.05 + 0.1 * a["train_loss"], (a["train_loss"], b["train_loss"])
assert abs(b["test_error"] - a["test_error"]) <= 5, (a["test_error"], b["test_error"])
assert json.load(open("pre_bf16/config.json"))["precision"] == "bf16"
PY
mpi 2 posttrain $COMMON -precision bf16 -model_in pre_bf16/model.h5 -run_epochs 1 -run_dir post > post.log 2>&1 && ok "posttrain bf16 (PoF)" || { bad "posttrain bf16"; tail post.log; }
/usr/bin/python3 - <<'PY' && ok "bf16 PoF: theta0 bit-identical, feature extractor moved, float master weights" || bad "bf16 PoF parameter checks"
import h5py, numpy as np
pre = h5py.File("pre_bf16/model.h5"); f = h5py.File("post/model.h5")
P0, P = pre["params"][:], f["params"][:]; nf = int(pre.attrs["n_feature"])
assert P.dtype == P0.dtype and P.dtype.itemsize >= 4, P.dtype
assert np.array_equal(P[nf:].view(np.uint32 if P.dtype.itemsize == 4 else np.uint64), P0[nf:].view(np.uint32 if P.dtype.itemsize == 4 else np.uint64))
assert np.abs(P[:nf] - P0[:nf]).max() > 1e-4
# master weights are not bf16-rounded: some low mantissa bits are set
lo = (P[:nf].astype(np.float32).view(np.uint32) & 0xFFFF)
assert np.count_nonzero(lo) > 0.5 * lo.size, "parameters look bf16-rounded"
PY
for p in fp32 bf16; do
  mpi 2 eval -data_file fm.h5 -precision $p -model_in post/model.h5 > eval_$p.log 2>&1 || { bad "eval $p"; tail eval_$p.log; }
done
/usr/bin/python3 -c "
import json
a, b = (json.loads(open(f'eval_{p}.log').read().strip().splitlines()[-1]) for p in ('fp32', 'bf16'))
print('eval fp32', a['test_error'], a['test_loss'], 'bf16', b['test_error'], b['test_loss'])
assert abs(a['test_error'] - b['test_error']) <= 1 and abs(a['test_loss'] - b['test_loss']) <= 0.02 * a['test_loss']
" && ok "eval bf16 agrees with eval fp32" || bad "eval bf16 vs fp32"
finish
