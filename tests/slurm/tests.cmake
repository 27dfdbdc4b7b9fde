# jobs/: the paper's option files (parse + one step each on synthetic data of their shape) and the
# sbatch scripts on a real one-node Slurm (tests/slurm/harness.sh; needs root, slurm-wlm, munge).
# Unloaded: options ~65 s, pretrain ~15 s, sweep ~14 s, scaling ~18 s, requeue ~30-65 s; the
# timeouts allow for a machine shared with other runs (2-rank steps slow down many-fold then).
pof_shell_test(jobs_options slurm/test_options.sh TIMEOUT 600 LABELS jobs)
foreach(t pretrain sweep scaling)
  pof_shell_test(slurm_${t} slurm/test_${t}.sh TIMEOUT 300 LABELS slurm)
endforeach()
pof_shell_test(slurm_requeue slurm/test_requeue.sh TIMEOUT 600 LABELS slurm)
