#!/bin/bash
# pof sweep under faults (2 ranks, one group of 2; tiny Fashion-MNIST, WRN-10-1 pretrain lines):
#  - SIGKILL of one rank of the group while line 2 runs: the job ends (no rank left waiting), line 2
#    has no result; the job scripts map the launcher's status to 69;
#  - the grid edited at line 2, which has a directory but no result yet: refused, naming line 2 and
#    its directory;
#  - the rerun hits a full disk (injected, agreed) in line 2's checkpoint: the whole sweep ends 74;
#  - a failure on one rank alone (injected at the start of a line): the sweep job aborts with 1
#    after the bounded wait, no rank left waiting; a line added at the end of the grid is accepted;
#  - the last rerun skips the finished line, resumes line 2 from its checkpoint, records line 3
#    (an agreed failure: a bad option) failed in its result.json, runs line 4: exit 3;
#  - memory after 20 lines failing inside the data load (the 56 MB Fashion-MNIST file, 1 rank)
#    within 10 % of memory after the first.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
workdir faults-sweep
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1
export OMPI_MCA_odls_base_sigkill_timeout=0 POF_ERROR_AGREE_SECONDS=2 POF_TEST_FAULT=
FM=/usr/share/datasets/fashion-mnist
"$pof" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz -convert_train_labels $FM/train-labels-idx1-ubyte.gz \
  -convert_test_images $FM/t10k-images-idx3-ubyte.gz -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output fm.h5 > convert.log 2>&1 \
  && "$src/tests/resume/make_tiny.py" fm.h5 tiny.h5 256 128 || { bad "datasets"; cat convert.log; finish; exit 1; }
S="-sweep_command pretrain -sweep_group_size 2 -data_file tiny.h5 -model_depth 10 -model_width 1 -opt_batch 32 -opt_lr 0.05 -run_quiet -run_epochs 1"
mpi() { timeout 120 "$MPIEXEC" --oversubscribe -n 2 -x OMP_NUM_THREADS=1 -x POF_TEST_FAULT -x POF_ERROR_AGREE_SECONDS "$pof" sweep $S "$@"; }
no_orphans() { for _ in $(seq 30); do pgrep -f -- "-sweep_dir $1( |$)" > /dev/null || return 0; sleep 0.1; done; return 1; }
printf -- '-run_seed 3\n-run_seed 4 -run_epochs 2 -ckpt_every_steps 2\n-opt_lr -1\n' > grid.txt

# 1. SIGKILL of one rank while line 2 runs (after its checkpoint at step 4)
setsid "$MPIEXEC" --oversubscribe --mca btl_vader_backing_directory "$PWD" -n 2 -x OMP_NUM_THREADS=1 "$pof" sweep $S -sweep_grid grid.txt -sweep_dir sw > kill.log 2>&1 &
BG=$!
for _ in $(seq 600); do [ -e sw/line-002/ckpt-0000000004.h5 ] && break; sleep 0.1; done
victim=$(pgrep -P $BG | tail -1)
[ -n "$victim" ] && kill -9 "$victim"
for _ in $(seq 300); do kill -0 $BG 2> /dev/null || break; sleep 0.1; done
kill -0 $BG 2> /dev/null && { bad "sweep still running 30 s after one rank was killed"; kill -9 -- -$BG; }
wait $BG; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 1 ] && ok "one rank killed: the launcher ended the job (status $rc)" || { bad "status $rc"; tail kill.log; }
(POF="$pof"; . "$src/jobs/env.sh" > /dev/null 2>&1; pof_map_status $rc; echo "$POF_STATUS") > map.txt 2>&1
[ "$(tail -1 map.txt)" = 69 ] && ok "the job scripts map it to 69 (lost peer)" || bad "mapped to $(cat map.txt)"
no_orphans sw && ok "no rank left waiting" || bad "ranks left: $(pgrep -af -- '-sweep_dir sw')"
[ -e sw/line-001/result.json ] && [ ! -e sw/line-002/result.json ] && ok "line 1 recorded, line 2 interrupted" || bad "after the kill: $(ls sw sw/line-002)"

# 2. line 2 edited (it has a directory, no result): refused
sed 's/^-run_seed 4 /-run_seed 9 /' grid.txt > grid-edited.txt
expect_rc 1 "grid edited at an interrupted line: refused" mpi -sweep_grid grid-edited.txt -sweep_dir sw
expect_out "^pof: error: the grid changed since the sweep directory sw was written: line 2 \(sw/line-002\) ran '-run_seed 4 -run_epochs 2 -ckpt_every_steps 2', the grid's line 2 now says '-run_seed 9" "names line 2 and its directory"

# 3. a full disk (injected on rank 0, agreed) in line 2's next checkpoint: the whole sweep ends 74
# (the kill above came after checkpoint 4, or after a later one on a fast machine: the newest one)
newest=$(ls sw/line-002/ckpt-*.h5 | sort | tail -1)
next=$(printf 'sw/line-002/ckpt-%010d.h5' $(( 10#$(basename "$newest" .h5 | sed 's/ckpt-//') + 2 )))
POF_TEST_FAULT=ckpt_data:FAIL expect_rc 74 "storage failure in a line: the sweep exits 74" mpi -sweep_grid grid.txt -sweep_dir sw
expect_out "resuming from $newest" "line 2 resumed"
grep '^{' "$T_OUT" | tail -1 | grep -q "\"status\":\"storage\".*storage failure: checkpoint $next not written" \
  && ok "last line: status storage, the checkpoint named" || { bad "JSON line"; tail -3 "$T_OUT"; }
[ ! -e sw/line-002/result.json ] && [ ! -e sw/line-003/line.txt ] && ok "line 2 without a result, no new line taken" || bad "after 74: $(ls sw)"

# 4. a line added at the end; a failure on one rank alone at the start of the first line run
echo "-run_seed 6" >> grid.txt
t0=$(date +%s)
POF_TEST_FAULT=line:FAIL expect_rc 1 "failure on one rank alone: the sweep job aborts (1)" mpi -sweep_grid grid.txt -sweep_dir sw
expect_out "^pof: error: \[rank 0 on [^]]+\] line 2 failed on this rank alone" "the rank and the line named"
no_orphans sw && ok "no rank left waiting ($(( $(date +%s) - t0 )) s)" || bad "ranks left"

# 5. the last rerun completes the grid
expect_rc 3 "rerun: exit 3 (line 3 failed)" mpi -sweep_grid grid.txt -sweep_dir sw
expect_out "line 1 .*finished earlier.*skipped" "line 1 skipped"
expect_out "resuming from $newest" "line 2 resumed from its checkpoint"
/usr/bin/python3 - <<'PY' && ok "summary: lines 1,2,4 ok, line 3 failed with its message in result.json" || bad "summary"
import json
js = [json.loads(l) for l in open("sw/summary.jsonl")]
assert [j["status"] for j in js] == ["ok", "ok", "failed", "ok"], js
r3 = json.load(open("sw/line-003/result.json"))
assert r3["status"] == "failed" and "-opt_lr" in r3["message"], r3
assert js[1]["global_step"] == 16, js[1]
PY

# 6. memory after 20 lines failing inside the data load (crop padding refused after the load)
for i in $(seq 20); do echo "-data_crop_pad 40 -run_seed $i"; done > grid-mem.txt
timeout 120 "$pof" sweep -sweep_command pretrain -data_file fm.h5 -model_depth 10 -model_width 1 -run_quiet -sweep_grid grid-mem.txt -sweep_dir mem > mem.log 2>&1
m1=$(grep -oP 'line 1 FAILED.*memory \K[0-9]+' mem.log); m20=$(grep -oP 'line 20 FAILED.*memory \K[0-9]+' mem.log)
grep -q "line 20 FAILED.*data_crop_pad 40 is not smaller" mem.log && [ -n "$m1" ] && [ -n "$m20" ] && [ $((m20 * 10)) -le $((m1 * 11)) ] \
  && ok "memory after 20 failing lines ${m20} MB, after 1 ${m1} MB" || { bad "memory: $m1 -> $m20 MB"; tail -5 mem.log; }
finish
