# Faults: checkpoint writes killed, stopped, failing (injected and on a full tmpfs), a corrupt newest
# checkpoint, symbolic links in the run directory (faults_ckpt.sh); the sweep under faults
# (faults_sweep.sh). Measured 2026-12-08 on the 2 cores shared with other jobs (load average
# 14-20): faults_ckpt 55-85 s, faults_sweep 56-61 s.
pof_shell_test(faults_ckpt faults/faults_ckpt.sh TIMEOUT 400 LABELS "faults;resume;mpi")
pof_shell_test(faults_sweep faults/faults_sweep.sh TIMEOUT 400 LABELS "faults;sweep;mpi")
