#!/bin/bash
# Restart and failures: a sweep killed (-9) while line 3 runs (after its first checkpoint) is rerun:
# line 1 (finished) is skipped, line 2 (invalid option) is reported failed again, line 3 resumes
# from its checkpoint and ends bit-identical to an uninterrupted run, line 4 runs; the summary
# has each line once; line 5 (diverging: non-finite loss) is recorded failed. A mistyped option
# on the command line stops the sweep before any line; a grid edited between runs is refused.
. "$(dirname "$0")/common.sh"
make_small || { finish; exit 1; }
cat > grid.txt <<'G'
-pof_gamma_max 1.5
-pof_gamma_max 1.0 -no_such_option 3
-run_epochs 4 -ckpt_every_steps 2 -pof_gamma_max 0.5
-pof_mode off
-opt_lr 1e300 -pof_mode off -pof_train_classifier -data_train_subset 128
G
# an unknown option on the command line (not in a line) would fail every line: the sweep stops first
expect_rc 1 "unknown base option stops the sweep before any line" mpi 2 sweep $COMMON -model_in pre/model.h5 -sweep_grid grid.txt -sweep_dir bad -sweep_group_size 2 -pof_gama_max 2
expect_out "^pof: error: unknown option -pof_gama_max: did you mean -pof_gamma_max\\?" "the option is named, with the closest known name"
[ ! -e bad ] && ok "nothing written" || bad "sweep dir created: $(ls bad)"
# one group of 2 ranks: the lines run in order; mpiexec in a process group of its own (setsid)
setsid timeout 600 "$MPIEXEC" --oversubscribe --mca btl_vader_backing_directory "$PWD" -n 2 -x OMP_NUM_THREADS=1 "$pof" sweep $COMMON -model_in pre/model.h5 -sweep_grid grid.txt -sweep_dir sw -sweep_group_size 2 > run1.log 2>&1 &
pid=$!
for _ in $(seq 600); do ls sw/line-003/ckpt-*.h5 > /dev/null 2>&1 && break; kill -0 $pid 2> /dev/null || break; sleep 0.1; done
# kill -9 of the whole job (timeout, mpiexec and the ranks, which Open MPI puts in process groups of
# their own; as a batch system kills a job's cgroup): killing mpiexec alone leaves the ranks running
# on, finishing line 3 or racing the rerun below. SIGTERM would be a graceful stop (checkpoint,
# exit 75), which is not the crash this test is about.
tree() { local p; for p in $(pgrep -P "$1"); do echo "$p"; tree "$p"; done; }
procs=$(tree $pid | tr '\n' ' ')
kill -STOP $pid $procs 2> /dev/null; kill -9 -- -$pid $procs 2> /dev/null; wait $pid; rc=$?
for _ in $(seq 50); do pgrep -f -- "-sweep_dir sw( |$)" > /dev/null || break; sleep 0.1; done
! pgrep -f -- "-sweep_dir sw( |$)" > /dev/null && ok "no rank survived the kill" || bad "ranks survived the kill"
[ $rc -ne 0 ] && [ ! -e sw/line-003/result.json ] && [ -e sw/line-001/result.json ] && ok "sweep killed during line 3 (rc=$rc)" || { bad "kill mid-way (rc=$rc)"; tail run1.log; }
grep -q '"status":"failed".*unknown option.*-no_such_option' sw/line-002/result.json && ok "line 2 recorded failed with the bad option named" || { bad "line 2 result"; cat sw/line-002/result.json; }
rc=0; mpi 2 sweep $COMMON -model_in pre/model.h5 -sweep_grid grid.txt -sweep_dir sw -sweep_group_size 2 > run2.log 2>&1 || rc=$?
[ $rc -eq 3 ] && ok "rerun went through the grid, exit status 3 for its 2 failed lines" || { bad "rerun (rc=$rc)"; tail -20 run2.log; }
grep -q "line 1 .*finished earlier.*skipped" run2.log && ok "finished line 1 skipped" || bad "line 1 not skipped"
grep -q "posttrain: resuming from sw/line-003/ckpt-" run2.log && ok "interrupted line 3 resumed from its checkpoint" || { bad "line 3 did not resume"; grep line-003 run2.log; }
grep -q '"ok":2,"skipped":1,"failed":2' run2.log && ok "totals: 2 run, 1 skipped, 2 failed" || { bad "totals"; tail -3 run2.log; }
/usr/bin/python3 - <<'PY' && ok "summary: each line once, lines 2 (bad option) and 5 (diverged) failed with their messages, others ok" || bad "summary"
import csv, json
js = [json.loads(l) for l in open("sw/summary.jsonl")]
assert [j["line"] for j in js] == [1, 2, 3, 4, 5], [j["line"] for j in js]
assert [j["status"] for j in js] == ["ok", "failed", "ok", "ok", "failed"]
assert "diverged: non-finite loss" in js[4]["message"], js[4]
assert "no_such_option" in js[1]["message"] and js[1]["test_loss"] is None
assert js[2]["epochs"] == 5 and all(j["test_loss"] > 0 for j in js if j["status"] == "ok")
rows = list(csv.DictReader(open("sw/summary.csv")))
assert [r["line"] for r in rows] == ["1", "2", "3", "4", "5"] and rows[1]["status"] == "failed"
for i in range(1, 6):  # each result.json is one JSON object, each result.csv its summary row
    j = json.load(open(f"sw/line-00{i}/result.json"))
    assert j["line"] == i and next(csv.reader(open(f"sw/line-00{i}/result.csv")))[0] == str(i)
PY
# a sweep directory written before result.csv existed (the row was result.json's second line)
cat sw/line-001/result.csv >> sw/line-001/result.json && rm sw/line-001/result.csv && cp sw/summary.csv summary.before
rc=0; mpi 2 sweep $COMMON -model_in pre/model.h5 -sweep_grid grid.txt -sweep_dir sw -sweep_group_size 2 > run3.log 2>&1 || rc=$?
[ $rc -eq 3 ] && ok "rerun over an older line" || { bad "rerun 3 (rc=$rc)"; tail -5 run3.log; }
grep -q '"ok":0,"skipped":3,"failed":2' run3.log && [ "$(grep '^1,' sw/summary.csv)" = "$(grep '^1,' summary.before)" ] \
  && ok "older line still skipped and summarized" || { bad "older line"; tail -2 run3.log; diff sw/summary.csv summary.before; }
# an edited grid (a line inserted at the top) no longer matches the results: refused, nothing touched
{ echo "-pof_gamma_max 0.25"; cat grid.txt; } > grid2.txt
sum_sw=$(cat sw/summary.csv sw/line-*/result.json | md5sum)
expect_rc 1 "a sweep directory of another grid is refused" mpi 2 sweep $COMMON -model_in pre/model.h5 -sweep_grid grid2.txt -sweep_dir sw -sweep_group_size 2
expect_out "^pof: error: the grid changed since the sweep directory sw was written: line 1 \(sw/line-001\) ran '-pof_gamma_max 1.5', the grid's line 1 now says '-pof_gamma_max 0.25'" "the changed line is named"
[ "$(cat sw/summary.csv sw/line-*/result.json | md5sum)" = "$sum_sw" ] && ok "results untouched" || bad "results changed"
mpi 2 posttrain $COMMON -model_in pre/model.h5 -run_dir alone3 -run_epochs 4 -ckpt_every_steps 2 -pof_gamma_max 0.5 > alone3.log 2>&1
same_model sw/line-003/model.h5 alone3/model.h5 && ok "resumed line 3 bit-identical to an uninterrupted run" || bad "resumed line 3 differs"
finish
