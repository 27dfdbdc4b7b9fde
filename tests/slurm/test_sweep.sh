#!/bin/bash
# jobs/sweep-array.sbatch: a 2-task job array over a grid file (comments and blank lines skipped)
# with the %1 throttle: each task post-trains from the same model with its line's options into
# its own run directory; with %1 the second task starts only after the first ended. An index
# outside the grid fails with a message.
. "$(dirname "$0")/common.sh"
tiny d.h5 1 16 16 10 64 32
M="-model_depth 10 -model_width 1 -opt_batch 16"
timeout 60 "$pof" pretrain -data_file d.h5 $M -run_epochs 1 -run_dir pre -run_quiet > pre.log 2>&1 || { bad "pretrain outside Slurm"; cat pre.log; }
cat > grid.txt << 'G'
# gamma_max x seed
-pof_gamma_max 1 -run_seed 11

   # an indented comment
-pof_gamma_max 3 -run_seed 12
G
export POF_SWEEP_DIR=sw
submit -n 1 --array=1-2%1 -o sweep-%A_%a.out "$src/jobs/sweep-array.sbatch" grid.txt -data_file d.h5 -model_in pre/model.h5 $M -run_epochs 2 \
  && ok "sweep-array.sbatch submitted as --array=1-2%1 (job $JOB)" || bad "sbatch sweep-array.sbatch"
arr=$JOB
[ "$(slurm_job_field "${arr}" ArrayTaskThrottle)" = 1 ] && ok "throttle %1 recorded by Slurm (ArrayTaskThrottle=1)" || bad "ArrayTaskThrottle: $(scontrol -o show job "$arr" | head -1)"
slurm_wait_job "$arr" 120 || bad "array did not finish in 120 s"
for t in 1 2; do job_done "${arr}_$t" "array task $t" || cat sweep-${arr}_$t.out; done
/usr/bin/python3 - << 'PY' && ok "line-001 and line-002: each line's gamma_max and seed, model.h5, line.txt" || bad "sweep run directories"
import json, os
for i, (g, s) in enumerate([(1.0, 11), (3.0, 12)], 1):
    d = f"sw/line-{i:03d}"
    cfg = json.load(open(f"{d}/config.json"))
    assert cfg["pof_gamma_max"] == g and cfg["run_seed"] == s and cfg["run_epochs"] == 2, cfg
    assert os.path.exists(f"{d}/model.h5"), d
    assert open(f"{d}/line.txt").read().split() == ["-pof_gamma_max", str(int(g)), "-run_seed", str(s)]
PY
# %1: task 2 started no earlier than task 1 ended (Slurm's own times, ISO 8601, compare as text)
e1=$(slurm_job_field "${arr}_1" EndTime); s2=$(slurm_job_field "${arr}_2" StartTime)
[ -n "$e1" ] && [ -n "$s2" ] && ! [[ "$s2" < "$e1" ]] && ok "with %1 the tasks ran one after the other (task 1 ended $e1, task 2 started $s2)" || bad "throttle: task 1 ended '$e1', task 2 started '$s2'"
submit -n 1 --array=3 -o sweep-%A_%a.out "$src/jobs/sweep-array.sbatch" grid.txt && slurm_wait_job "$JOB" 60
grep -q "array index 3 is outside 1..2" sweep-${JOB}_3.out && ok "array index beyond the grid fails with a message" || { bad "index 3"; cat sweep-${JOB}_3.out; }
slurm_finish
