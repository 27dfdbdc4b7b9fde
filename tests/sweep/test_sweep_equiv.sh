#!/bin/bash
# A 4-line grid at 4 ranks in groups of 2 gives, for each line, bit-for-bit the model and the
# losses of that line run alone by pof posttrain at 2 ranks (same rank count: bitwise is expected).
. "$(dirname "$0")/common.sh"
make_small || { finish; exit 1; }
cat > grid.txt <<'G'
# PoF sweep test grid: comments and blank lines are skipped
-pof_gamma_max 1.5
-pof_gamma_max 0.5 -run_seed 2   # trailing comment

-opt_lr 0.01 -pof_partitions 4
-pof_mode off
G
mpi 4 sweep $COMMON -model_in pre/model.h5 -sweep_grid grid.txt -sweep_dir sw -sweep_group_size 2 > sweep.log 2>&1 && ok "sweep of 4 lines at 4 ranks in 2 groups" || { bad "sweep"; tail -20 sweep.log; }
grep -q '"ok":4,"skipped":0,"failed":0' sweep.log && ok "4 lines finished" || { bad "sweep totals"; tail -5 sweep.log; }
i=0
sed 's/#.*//' grid.txt | grep -v '^ *$' | while read -r line; do
  i=$((i+1)); n=$(printf %03d $i)
  mpi 2 posttrain $COMMON -model_in pre/model.h5 -run_dir alone-$n $line > alone-$n.log 2>&1 < /dev/null || { bad "alone line $i"; tail alone-$n.log; continue; }
  same_model sw/line-$n/model.h5 alone-$n/model.h5 && ok "line $i ($line): model bit-identical to the run alone at 2 ranks" || bad "line $i model differs"
  /usr/bin/python3 - alone-$n.log sw/summary.jsonl $i <<'PY' && ok "line $i: summary losses = the run alone" || bad "line $i summary"
import json, sys
alone = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
rows = [json.loads(l) for l in open(sys.argv[2])]
r = [x for x in rows if x["line"] == int(sys.argv[3])]
assert len(r) == 1 and r[0]["status"] == "ok", r
for k, fmt in (("test_loss", "%.9g"), ("train_loss", "%.9g"), ("test_error", "%.6g")): assert float(fmt % alone[k]) == float(fmt % r[0][k]), (k, alone[k], r[0][k])
assert r[0]["epochs"] == alone["epochs_done"]
PY
done > loop.log 2>&1; cat loop.log
T_PASS=$((T_PASS + $(grep -c '^ok' loop.log))); T_FAIL=$((T_FAIL + $(grep -c '^FAIL' loop.log)))
/usr/bin/python3 - <<'PY' && ok "summary.csv and summary.jsonl: 4 rows in line order with options and file lines" || bad "summary files"
import csv, json
rows = list(csv.DictReader(open("sw/summary.csv")))
assert [r["line"] for r in rows] == ["1", "2", "3", "4"], rows
assert [r["grid_line"] for r in rows] == ["2", "3", "5", "6"], rows
assert rows[1]["options"] == "-pof_gamma_max 0.5 -run_seed 2" and all(r["status"] == "ok" for r in rows)
js = [json.loads(l) for l in open("sw/summary.jsonl")]
assert [j["line"] for j in js] == [1, 2, 3, 4]
PY
# the dataset and the model were read from memory: no run opened them (the sweep did, once)
grep -q "data small.h5, model pre/model.h5" sweep.log && ok "dataset and model shared as file images" || bad "no image sharing line"
expect_rc nonzero "group size that does not divide the ranks" mpi 4 sweep $COMMON -model_in pre/model.h5 -sweep_grid grid.txt -sweep_dir bad -sweep_group_size 3
expect_out "-sweep_group_size 3 does not divide the 4 ranks" "bad group size named"
expect_rc nonzero "missing grid file" mpi 2 sweep $COMMON -model_in pre/model.h5 -sweep_grid nosuch.txt -sweep_dir bad
expect_out "cannot read 'nosuch.txt'" "missing grid named"
finish
