#!/bin/bash
# End to end: a tiny WRN pretrained for 2 epochs on 4000 Fashion-MNIST images at 2 ranks reaches
# <= 30% test error on the full test set; metrics, config and model file are written and parse;
# pof eval at 1 and 2 ranks reproduces the final test figures; error paths.
. "$(dirname "$0")/common.sh"
convert_fmnist fm.h5 && ok "convert Fashion-MNIST" || { bad "convert"; cat convert.log; }
PRE="-data_file fm.h5 -model_depth 10 -model_width 1 -data_train_subset 4000 -opt_batch 32 -opt_lr 0.05 -opt_milestones 1 -opt_factor 0.1 -data_augment 0"
mpi 2 pretrain $PRE -run_epochs 2 -run_dir pre > pre.log 2>&1 && ok "pretrain at 2 ranks" || { bad "pretrain"; tail -20 pre.log; }
err=$(json_field pre.log test_error)
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 30 else 1)" "$err" && ok "test error $err% <= 30%" || bad "test error $err% > 30%"
/usr/bin/python3 - <<'PY' && ok "metrics.jsonl: 2 epochs with every field" || bad "metrics.jsonl"
import json
rows = [json.loads(l) for l in open("pre/metrics.jsonl")]
assert [r["epoch"] for r in rows] == [1, 2], rows
for r in rows:
    for k in ("train_loss", "train_error", "test_loss", "test_error", "lr", "epoch_seconds", "images_per_s", "time"):
        assert k in r, k
    for ph in ("data", "forward", "backward", "comm_wait", "optimizer", "eval"):
        mn, avg, mx = r["time"][ph]; assert mn <= avg <= mx
    # the gradient exchange of WRN-10-1 (77562 parameters: one bucket at 2 ranks); its two waits
    # are parts of comm_wait (mean over ranks), and at most every bucket is open at the end
    x = r["exchange"]
    assert x["buckets"] == 1 and 0 <= x["open_at_end"] <= 1, x
    assert 0 <= x["grad_wait"] and 0 <= x["param_gather"], x
    assert x["grad_wait"] + x["param_gather"] <= r["time"]["comm_wait"][1] + 1e-3, (x, r["time"]["comm_wait"])
assert abs(rows[0]["lr"] - 0.05) < 1e-12 and abs(rows[1]["lr"] - 0.005) < 1e-12
cfg = json.load(open("pre/config.json")); assert cfg["opt_batch"] == 32 and cfg["model_depth"] == 10
PY
[ -f pre/model.h5 ] && ok "model.h5 written" || bad "no model.h5"
for n in 1 2; do
  mpi $n eval -data_file fm.h5 -model_in pre/model.h5 > eval$n.log 2>&1 || { bad "eval at $n ranks"; cat eval$n.log; continue; }
  e=$(json_field eval$n.log test_error); l=$(json_field eval$n.log test_loss); pl=$(json_field pre.log test_loss)
  /usr/bin/python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); sys.exit(0 if a==b and abs(c-d)<=1e-6*abs(d) else 1)" "$e" "$err" "$l" "$pl" \
    && ok "eval at $n ranks: error $e%, loss $l (same as the run's final evaluation)" || bad "eval at $n ranks: $e/$l vs $err/$pl"
done
mpi 2 eval -data_file fm.h5 -model_in pre/model.h5 -eval_split train > evtr.log 2>&1 && grep -q '"train_error"' evtr.log && ok "eval on the clean train split" || bad "eval -eval_split train"

# error paths: one clear message, non-zero exit, nothing damaged
expect_rc nonzero "indivisible batch" mpi 2 pretrain $PRE -opt_batch 33 -run_dir bad1
expect_out "-opt_batch 33 is not divisible by the 2 ranks" "indivisible batch named"
expect_rc nonzero "missing dataset" mpi 2 pretrain -data_file nothere.h5 -run_dir bad2
expect_out "nothere.h5" "missing dataset named"
convert_fmnist other.h5 -convert_name other-data
expect_rc nonzero "model of another dataset for eval" mpi 2 eval -data_file other.h5 -model_in pre/model.h5
expect_out "was trained on 'fashion-mnist'" "dataset mismatch named"
expect_rc nonzero "a data file as a model file" mpi 2 eval -data_file fm.h5 -model_in fm.h5
expect_out "fm.h5" "bad model file named"
mpi 1 pretrain -data_file fm.h5 -model_depth 16 -model_width 1 -model_base 4 -data_train_subset 64 -opt_batch 32 -run_epochs 2 -ckpt_every_epochs 1 -run_dir other > other.log 2>&1 || bad "other-architecture pretrain"
expect_rc nonzero "resume a run directory holding another architecture" mpi 2 pretrain $PRE -run_epochs 3 -run_dir other -ckpt_every_epochs 1
expect_out "but this run needs WRN-10-1" "architecture mismatch named"
# a diverged run (non-finite losses) still writes strict JSON: null, never the NaN/Infinity literals
mpi 2 pretrain $PRE -data_train_subset 256 -opt_lr 1e30 -run_epochs 1 -run_dir nan > nan.log 2>&1 || bad "diverged pretrain failed"
/usr/bin/python3 - <<'PY' && ok "diverged run: metrics.jsonl and the JSON line are strict JSON with null losses" || bad "diverged run: non-JSON numbers"
import json
def strict(s):
    def no(c): raise ValueError("non-JSON literal " + c)
    return json.loads(s, parse_constant=no)
rows = [strict(l) for l in open("nan/metrics.jsonl")]
last = strict(open("nan.log").read().strip().splitlines()[-1])
assert rows[-1]["train_loss"] is None and last["test_loss"] is None, (rows[-1], last)
PY
# a run directory with a quote, backslashes, a space, UTF-8 and a byte that is not UTF-8: every
# row of metrics.jsonl and the final JSON lines (pretrain, eval) parse, and give the path back
odd=$'r"un\\x\\ \xc3\xa9\xe9'
mpi 2 pretrain $PRE -data_train_subset 256 -run_epochs 1 -run_dir "$odd" > odd.log 2>&1 || { bad "pretrain in a run directory named $odd"; tail -5 odd.log; }
mpi 1 eval -data_file fm.h5 -model_in "$odd/model.h5" > oddev.log 2>&1 || { bad "eval of $odd/model.h5"; tail -5 oddev.log; }
/usr/bin/python3 - "$odd" <<'PY' && ok "run directory with quotes and backslashes: metrics.jsonl and the JSON lines parse" || bad "run directory with quotes and backslashes"
import json, os, sys
def strict(s):
    def no(c): raise ValueError("non-JSON literal " + c)
    return json.loads(s, parse_constant=no)
raw = os.fsencode(sys.argv[1])
want = raw.decode("utf-8", "replace")  # pof writes a byte that is not UTF-8 as U+FFFD
rows = [strict(l) for l in open(raw + b"/metrics.jsonl", encoding="ascii")]
assert [r["epoch"] for r in rows] == [1], rows
def last_line(p):  # the JSON line is ASCII (the text lines above it carry the raw path)
    return strict(open(p, "rb").read().strip().splitlines()[-1].decode("ascii"))
last = last_line("odd.log")
assert last["run_dir"] == want and last["model"] == want + "/model.h5", (last, want)
ev = last_line("oddev.log")
assert ev["model"] == want + "/model.h5", (ev, want)
PY
cp pre/model.h5 keep.h5; mpi 2 pretrain $PRE -opt_batch 33 -run_dir pre > /dev/null 2>&1; cmp -s pre/model.h5 keep.h5 && ok "model file untouched by a failed run in its directory" || bad "model file changed"
finish
