#!/bin/bash
# jobs/pretrain.sbatch and jobs/posttrain.sbatch on a one-node Slurm: a 2-rank pretrain of a tiny
# WRN on tiny synthetic data, then (afterok dependency) a PoF post-training from its model;
# options from the command line, an options file and POF_* variables; a bad option fails the job
# with pof's message in the job's output.
. "$(dirname "$0")/common.sh"
tiny d.h5 1 16 16 10 64 32
M="-model_depth 10 -model_width 1"
printf -- '-opt_batch 16\n-opt_milestones 1\n' > my.opts
submit -n 2 -o pre-%j.out "$src/jobs/pretrain.sbatch" -data_file d.h5 $M -opt_batch 16 -run_epochs 2 -run_dir pre \
  && ok "pretrain.sbatch submitted (job $JOB)" || bad "sbatch pretrain.sbatch"
pre=$JOB
POF_OPTIONS_FILE=my.opts POF_DATA=d.h5 POF_MODEL_IN=pre/model.h5 POF_ARGS="-run_epochs 3" \
  submit -n 2 -o post-%j.out --dependency=afterok:$pre "$src/jobs/posttrain.sbatch" -run_dir post $M \
  && ok "posttrain.sbatch submitted after it (job $JOB)" || bad "sbatch posttrain.sbatch"
post=$JOB
slurm_wait_job "$post" 120 || bad "jobs did not finish in 120 s"
job_done "$pre" "pretrain job" || cat pre-$pre.out
grep -q "mpirun -n 2 --bind-to core" pre-$pre.out && ok "launched with mpirun -n 2 --bind-to core (2 tasks, 1 cpu each)" || { bad "launcher line"; cat pre-$pre.out; }
/usr/bin/python3 - pre-$pre.out pre << 'PY' && ok "pretrain: 2 epochs in metrics.jsonl, model.h5, summary JSON last line of pof's output" || bad "pretrain outputs"
import json, os, sys
out, d = sys.argv[1:]
last = [json.loads(l) for l in open(out) if l.startswith("{")][-1]
assert last["command"] == "pretrain" and last["epochs_done"] == 2, last
assert [json.loads(l)["epoch"] for l in open(f"{d}/metrics.jsonl")] == [1, 2]
assert os.path.exists(f"{d}/model.h5")
PY
job_done "$post" "posttrain job (afterok dependency)" || cat post-$post.out
/usr/bin/python3 - post-$post.out post << 'PY' && ok "posttrain: options file + POF_* variables applied (batch 16, 3 epochs after the 2 of pretraining, PoF mode global)" || { bad "posttrain outputs"; cat post-$post.out; }
import json, sys
out, d = sys.argv[1:]
last = [json.loads(l) for l in open(out) if l.startswith("{")][-1]
assert last["command"] == "posttrain" and last["epochs_done"] == 2 + 3, last  # global epoch count
cfg = json.load(open(f"{d}/config.json"))
assert cfg["opt_batch"] == 16 and cfg["pof_mode"] == "global" and cfg["run_epochs"] == 3, cfg
PY
submit -n 1 -o bad-%j.out "$src/jobs/pretrain.sbatch" -data_file d.h5 $M -opt_bach 16 -run_dir bad && slurm_wait_job "$JOB" 60
st=$(slurm_job_field "$JOB" JobState); ec=$(slurm_job_field "$JOB" ExitCode)
[ "$st" = FAILED ] && [ "$ec" = 1:0 ] && grep -q "pof: error: .*-opt_bach" bad-$JOB.out \
  && ok "a misspelt option fails the job (FAILED, exit 1:0) with pof's message in the output" || { bad "bad option job: $st $ec"; cat bad-$JOB.out; }
POF=/nonexistent/pof submit -n 1 -o nobin-%j.out "$src/jobs/pretrain.sbatch" -data_file d.h5 && slurm_wait_job "$JOB" 60
grep -q "never build" nobin-$JOB.out && [ "$(slurm_job_field "$JOB" JobState)" = FAILED ] \
  && ok "a missing binary fails the job with a clear message (scripts never build)" || { bad "missing binary"; cat nobin-$JOB.out; }
slurm_finish
