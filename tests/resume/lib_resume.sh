# Shared setup of the resume tests: the pof binary, a 256/128-image Fashion-MNIST file, the tiny
# model, helpers to run pof at N ranks and to stop a run from outside.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 HDF5_USE_FILE_LOCKING=FALSE OMP_NUM_THREADS=1
R="$src/tests/resume"
W="$(mktemp -d /tmp/pof-resume.XXXXXX)"; cd "$W" || exit 1; echo "work dir: $W"
FM=/usr/share/datasets/fashion-mnist
"$pof" convert -convert_format idx -convert_train_images $FM/train-images-idx3-ubyte.gz -convert_train_labels $FM/train-labels-idx1-ubyte.gz \
  -convert_test_images $FM/t10k-images-idx3-ubyte.gz -convert_test_labels $FM/t10k-labels-idx1-ubyte.gz -convert_output fm.h5 > convert.log 2>&1 \
  && "$R/make_tiny.py" fm.h5 tiny.h5 256 128 && rm -f fm.h5 || { bad "tiny dataset"; cat convert.log; exit 1; }
# 8 steps per epoch, augmentation on, cosine schedule over the run's epochs
PRE="-data_file tiny.h5 -model_depth 10 -model_width 1 -opt_batch 32 -opt_lr 0.05 -opt_schedule cosine -run_epochs 2 -run_quiet -run_seed 3"
# mpi N ARGS... : pof at N ranks (120 s limit); output in $T_OUT via expect_rc, or redirect yourself
mpi() { local n="$1"; shift; timeout 120 "$MPIEXEC" --oversubscribe -n "$n" -x OMP_NUM_THREADS=1 -x POF_TEST_RAISE "$pof" "$@"; }
export POF_TEST_RAISE=
# start_bg LOG N ARGS... : mpiexec in the background in its own process group (pid = pgid in $BG);
# its shared-memory segments in the work directory, so a kill -9 leaves nothing in /dev/shm
start_bg() {
  local log="$1" n="$2"; shift 2
  setsid "$MPIEXEC" --oversubscribe --mca btl_vader_backing_directory "$PWD" -n "$n" -x OMP_NUM_THREADS=1 -x POF_TEST_RAISE "$pof" "$@" > "$log" 2>&1 &
  BG=$!
}
. "$src/tests/resume/lib_proc.sh"
attr() { /usr/bin/python3 -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs[sys.argv[2]]))" "$1" "$2"; }
json_field() { /usr/bin/python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])" "$1" "$2"; }
same() { # A B DESC [RTOL]
  if "$R/compare_models.py" "$1" "$2" $4 > cmp.log 2>&1; then ok "$3: $(tail -1 cmp.log); $(grep '^/params' cmp.log)"; else bad "$3"; cat cmp.log; fi
}
resume_finish() {
  finish; local rc=$?
  if [ $rc -eq 0 ]; then cd / && rm -rf "$W"; fi
  return $rc
}
