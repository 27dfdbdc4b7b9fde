# Shared setup of the Slurm tests: the pof binary, a one-node Slurm (harness.sh), a work
# directory (removed when every check passed), a tiny dataset.  Usage: . common.sh POF SRC
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
. "$src/tests/slurm/harness.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
export POF="$pof" POF_ROOT="$src"
W=$(mktemp -d /tmp/pof-slurm-test.XXXXXX)
cd "$W" || exit 1
echo "work dir: $W"
slurm_start || { bad "one-node Slurm did not start"; finish; exit 1; }
ok "one-node Slurm started (munged, slurmctld, slurmd; node idle)"
# slurm_finish: summary line; the work directory is removed when every check passed.
slurm_finish() {
  finish; local rc=$?
  cd / && if [ $rc -eq 0 ]; then rm -rf "$W"; else echo "kept $W"; fi
  exit $rc
}
