# jobs/: the paper's option files (parse + one step each on synthetic data of their shape) and the
# sbatch scripts on a real one-node Slurm (tests/slurm/harness.sh; needs root, slurm-wlm, munge).
pof_shell_test(jobs_options slurm/test_options.sh TIMEOUT 240 LABELS jobs)
foreach(t pretrain sweep scaling requeue)
  pof_shell_test(slurm_${t} slurm/test_${t}.sh TIMEOUT 240 LABELS slurm)
endforeach()
