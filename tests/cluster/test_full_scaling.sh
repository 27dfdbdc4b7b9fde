#!/bin/bash
# cluster-full (e): jobs/scaling.sbatch on 1, 2 and 4 nodes of a 4-node Slurm (one rank per node),
# bench and data workloads, strong and weak: each job writes its table (JSONL and CSV), one ok
# line per workload x mode x rank count 1, 2, 4 ... up to its node count.
. "$(dirname "$0")/common.sh" "$1" "$2" 4
tiny d.h5 1 16 16 10 256 32 # weak scaling at 4 ranks reads 4 x 32 training images
for n in 1 2 4; do
  POF_DATA=d.h5 POF_SCALING_BATCH=16 POF_SCALING_RANK_BATCH=8 POF_SCALING_SUBSET=32 POF_SCALING_STEPS=3 POF_SCALING_OUT=res/n$n \
    POF_SCALING_BENCH_ARGS="-bench_input 1x16x16 -model_classes 10 -bench_warmup 1" \
    submit --nodes=$n --ntasks=$n --ntasks-per-node=1 -o scal-n$n-%j.out "$src/jobs/scaling.sbatch" -model_depth 10 -model_width 1 \
    && eval "job$n=$JOB" || bad "sbatch scaling.sbatch on $n nodes"
done
for n in 1 2 4; do
  eval "id=\$job$n"
  slurm_wait_job $id 300 || bad "scaling job on $n nodes not finished"
  job_done $id "scaling.sbatch on $n node(s) ($(slurm_job_field $id NodeList))" || tail -20 scal-n$n-$id.out
  if out=$(/usr/bin/python3 - $n << 'PY' 2>&1
import csv, json, sys
n = int(sys.argv[1])
want_r = [r for r in (1, 2, 4) if r <= n]
rows = [json.loads(l) for l in open(f"res/n{n}.jsonl")]
got = sorted((r["workload"], r["mode"], r["ranks"]) for r in rows)
want = sorted((w, m, r) for w in ("bench", "data") for m in ("strong", "weak") for r in want_r)
assert got == want, got
for r in rows:
    assert r["status"] == "ok" and r["images_per_s"] > 0 and r["efficiency"] > 0, r
assert len(list(csv.DictReader(open(f"res/n{n}.csv")))) == len(want)
print(f"{len(rows)} rows: " + ", ".join(f"{r['workload']}/{r['mode']}/{r['ranks']}: {r['images_per_s']:.0f} img/s" for r in rows))
PY
  ); then ok "$n node(s): table $out"; else bad "$n node(s) table: $out"; fi
done
cluster_finish
