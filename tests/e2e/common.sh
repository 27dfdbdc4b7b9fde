# Shared setup for end-to-end tests: the pof binary, mpiexec, and the real Fashion-MNIST
# converted once per test directory.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE
workdir e2e; work="$T_WORK"
FM=/usr/share/datasets/fashion-mnist
mpi() { local n="$1"; shift; timeout 600 "$MPIEXEC" --oversubscribe -n "$n" -x OMP_NUM_THREADS=1 "$pof" "$@"; }
convert_fmnist() {
  "$pof" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz -convert_train_labels $FM/train-labels-idx1-ubyte.gz \
    -convert_test_images $FM/t10k-images-idx3-ubyte.gz -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output "${1:-fm.h5}" "${@:2}" > convert.log 2>&1
}
json_field() { /usr/bin/python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])" "$1" "$2"; }
