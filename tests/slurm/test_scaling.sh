#!/bin/bash
# jobs/scaling.sbatch at 1 and 2 ranks, strong and weak, on the synthetic bench workload and on a
# tiny dataset: one results line per run in the JSONL and CSV files, all successful.
. "$(dirname "$0")/common.sh"
tiny d.h5 1 16 16 10 64 32
POF_SCALING_RANKS="1 2" POF_DATA=d.h5 POF_SCALING_BATCH=16 POF_SCALING_RANK_BATCH=8 POF_SCALING_SUBSET=32 \
  POF_SCALING_STEPS=3 POF_SCALING_OUT=res/scal POF_SCALING_BENCH_ARGS="-bench_input 1x16x16 -model_classes 10 -bench_warmup 1" \
  submit -n 2 -o scal-%j.out "$src/jobs/scaling.sbatch" -model_depth 10 -model_width 1 \
  && ok "scaling.sbatch submitted (job $JOB)" || bad "sbatch scaling.sbatch"
slurm_wait_job "$JOB" 180 || bad "scaling job did not finish in 180 s"
job_done "$JOB" "scaling job" || cat scal-$JOB.out
grep "^scaling:" scal-$JOB.out
/usr/bin/python3 - "$JOB" << 'PY' && ok "8 results lines (bench/data x strong/weak x 1,2 ranks), all ok, in JSONL and CSV" || { bad "scaling results"; cat scal-$JOB.out; cat res/scal.jsonl; }
import csv, json, sys
rows = [json.loads(l) for l in open("res/scal.jsonl")]
got = sorted((r["workload"], r["mode"], r["ranks"]) for r in rows)
want = sorted((w, m, r) for w in ("bench", "data") for m in ("strong", "weak") for r in (1, 2))
assert got == want, got
for r in rows:
    assert r["status"] == "ok" and r["images_per_s"] > 0 and r["ms_per_step"] > 0 and r["job"] == sys.argv[1], r
    assert r["batch"] == (16 if r["mode"] == "strong" else 8 * r["ranks"]), r
    if r["ranks"] == 1: assert r["efficiency"] == 1.0, r
    else: assert r["efficiency"] > 0, r
    if r["workload"] == "bench":  # pof bench's phases and gradient exchange are carried over
        assert r["ms_forward"] > 0 and r["ms_backward"] > 0 and "ms_comm_wait" in r, r
        assert r["exchange"]["buckets"] == (0 if r["ranks"] == 1 else 1), r
c = list(csv.DictReader(open("res/scal.csv")))
assert len(c) == 8 and {x["workload"] for x in c} == {"bench", "data"}
PY
slurm_finish
