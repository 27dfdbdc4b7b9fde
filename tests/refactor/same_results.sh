#!/bin/bash
# The restructuring's invariant (issue "One table, one JSON library, one home per concern"): at
# fixed seeds, two builds of pof give bitwise equal models (/params, /bn_running and every other
# dataset) and equal metrics rows (parsed values, timings removed) for pretrain, posttrain (PoF and
# the SGD control), a sweep and analyze; the final JSON lines agree too (timings removed).
#
#   tests/refactor/same_results.sh OLD_POF NEW_POF [WORKDIR]
#
# Runs both binaries on a 512/256-image subset of Fashion-MNIST (WRN-10-1, 2 ranks, about 1 min
# each) and prints one line per comparison and "N passed, N failed"; exit 0 when all agree.
# Example (before/after a change):
#   git worktree add /tmp/base HEAD~1 && POF_BUILD_DIR=/tmp/base/build /tmp/base/jobs/build.sh
#   ./jobs/build.sh && tests/refactor/same_results.sh /tmp/base/build/pof build/pof
set -uo pipefail
old="$(readlink -f "$1")"; new="$(readlink -f "$2")"
src="$(cd "$(dirname "$0")/../.." && pwd)"
. "$src/tests/shell/lib.sh"
W="${3:-$(mktemp -d /tmp/pof-same.XXXXXX)}"; mkdir -p "$W"; cd "$W" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1
FM=/usr/share/datasets/fashion-mnist
if [ ! -f small.h5 ]; then
  "$new" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz -convert_train_labels $FM/train-labels-idx1-ubyte.gz \
    -convert_test_images $FM/t10k-images-idx3-ubyte.gz -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output fm.h5 > /dev/null \
    && /usr/bin/python3 "$src/tests/resume/make_tiny.py" fm.h5 small.h5 512 256 && rm -f fm.h5 || { echo "dataset failed"; exit 1; }
fi
printf -- '-pof_gamma_max 1.5\n-opt_lr 0.01 -pof_partitions 4\n-pof_mode off\n' > grid.txt
mpi() { timeout 300 mpiexec --oversubscribe -n 2 -x OMP_NUM_THREADS=1 "$@"; }
C="-data_file small.h5 -opt_batch 64 -run_quiet"
run_all() { # TAG POF
  local t="$1" p="$2"
  rm -rf "$t"; mkdir "$t"
  mpi "$p" pretrain $C -model_depth 10 -model_width 1 -run_epochs 2 -opt_lr 0.05 -opt_milestones 1 -run_seed 3 -run_dir $t/pre > $t/pre.out 2>&1 || echo "$t pretrain failed"
  mpi "$p" posttrain $C -model_in $t/pre/model.h5 -run_epochs 2 -run_seed 4 -run_step_log -run_gap -run_gap_samples 128 -run_dir $t/pof > $t/pof.out 2>&1 || echo "$t posttrain failed"
  mpi "$p" posttrain $C -model_in $t/pre/model.h5 -run_epochs 2 -run_seed 4 -pof_mode off -run_dir $t/sgd > $t/sgd.out 2>&1 || echo "$t control failed"
  mpi "$p" sweep $C -model_in $t/pre/model.h5 -run_epochs 1 -sweep_grid grid.txt -sweep_dir $t/sw > $t/sw.out 2>&1 || echo "$t sweep failed"
  mpi "$p" analyze -data_file small.h5 -model_in $t/pre/model.h5 -analyze_split train -analyze_samples 64 -analyze_batch 32 -analyze_top_k 2 \
    -analyze_hutchinson 2 -analyze_grid1 5 -analyze_out $t/an.h5 > $t/an.out 2>&1 || echo "$t analyze failed"
}
run_all old "$old"; run_all new "$new"
/usr/bin/python3 - <<'PY'
import glob, json, os, sys
import h5py, numpy as np
TIMING = {"epoch_seconds", "images_per_s", "time", "exchange", "checkpoints", "seconds", "elapsed", "run_dir", "model", "sweep_dir", "out"}
npass = nfail = 0
def res(ok, what):
    global npass, nfail
    print(("ok   " if ok else "FAIL ") + what)
    npass += ok; nfail += not ok
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in TIMING}
    if isinstance(x, list):
        return [strip(v) for v in x]
    if isinstance(x, str) and not isinstance(x, Lit):
        return x.replace("old/", "X/").replace("new/", "X/")
    return x
def h5_same(a, b):
    with h5py.File(a, "r") as f, h5py.File(b, "r") as g:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        gn = []
        g.visititems(lambda n, o: gn.append(n) if isinstance(o, h5py.Dataset) else None)
        if sorted(names) != sorted(gn):
            return f"datasets differ: {sorted(set(names) ^ set(gn))}"
        for n in names:
            x, y = f[n][()], g[n][()]
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                return f"/{n} differs"
    return None
# Values are compared as parsed numbers; a real the old build printed with fewer digits than
# round-tripping takes (before pof wrote JSON through jansson: %.6g and %.9g) is equal when the
# new build's value, printed in that format, gives the old text exactly. Old side: reals kept as
# their text (class Lit); new side: parsed.
class Lit(str):
    pass
def same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Lit):
        return isinstance(b, (int, float)) and not isinstance(b, bool) and (float(a) == b or any(f % b == a for f in ("%.6g", "%.9g")))
    return a == b
def load(l, old):
    return strip(json.loads(l, parse_float=Lit if old else float))
def rows(p):
    return [load(l, p.startswith("old/")) for l in open(p)]
def last_json(p):
    for l in reversed(open(p).read().splitlines()):
        if l.startswith("{"):
            return load(l, p.startswith("old/"))
    return None
def eq(a, b):
    return a is not None and b is not None and same(a, b)
for run in ("pre", "pof", "sgd"):
    e = h5_same(f"old/{run}/model.h5", f"new/{run}/model.h5")
    res(e is None, f"{run}: model.h5 bitwise equal" + (f" ({e})" if e else ""))
    res(eq(rows(f"old/{run}/metrics.jsonl"), rows(f"new/{run}/metrics.jsonl")), f"{run}: metrics.jsonl rows equal (timings removed)")
    res(eq(last_json(f"old/{run}.out"), last_json(f"new/{run}.out")), f"{run}: final JSON line equal")
res(eq(rows("old/pof/steps.jsonl"), rows("new/pof/steps.jsonl")), "pof: steps.jsonl rows equal")
for d in sorted(glob.glob("old/sw/line-*")):
    n = os.path.basename(d)
    e = h5_same(f"{d}/model.h5", f"new/sw/{n}/model.h5")
    res(e is None, f"sweep {n}: model.h5 bitwise equal" + (f" ({e})" if e else ""))
    res(eq(rows(f"{d}/metrics.jsonl"), rows(f"new/sw/{n}/metrics.jsonl")), f"sweep {n}: metrics.jsonl rows equal")
res(eq(rows("old/sw/summary.jsonl"), rows("new/sw/summary.jsonl")), "sweep: summary.jsonl rows equal")
e = h5_same("old/an.h5", "new/an.h5")
res(e is None, "analyze: output datasets bitwise equal" + (f" ({e})" if e else ""))
res(eq(last_json("old/an.out"), last_json("new/an.out")), "analyze: final JSON line equal")
print(f"{npass} passed, {nfail} failed")
sys.exit(1 if nfail else 0)
PY
