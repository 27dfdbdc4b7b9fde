# Faults: checkpoint writes killed, stopped, failing (injected and on a full tmpfs), a corrupt newest
# checkpoint, symbolic links in the run directory (faults_ckpt.sh, about 55 s on 2 busy cores); the
# sweep under faults (faults_sweep.sh).
pof_shell_test(faults_ckpt faults/faults_ckpt.sh TIMEOUT 400 LABELS "faults;resume;mpi")
pof_shell_test(faults_sweep faults/faults_sweep.sh TIMEOUT 400 LABELS "faults;sweep;mpi")
