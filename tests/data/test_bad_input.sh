#!/bin/bash
# Bad input: each case fails with one "pof: error:" line naming the file and the problem, a
# non-zero exit on every rank (no hang), and no output or temporary file left behind; an
# existing output file is not damaged. Converter cases, then loader cases (data_probe).
# pof's ranks leave through MPI_Finalize even on an error; mpiexec then still waits its SIGTERM->SIGKILL
# grace (odls_base_sigkill_timeout, 1 s) before reporting the non-zero exit: not needed here
export OMPI_MCA_odls_base_sigkill_timeout=0
pof="$1"; src="$2"; dump="$3"; probe="$4"
. "$src/tests/shell/lib.sh"
py=/usr/bin/python3; here="$src/tests/data"
workdir data-bad_input
$py "$here/gen_fixtures.py" bad b && $py "$here/gen_fixtures.py" good g \
  || { echo "fixture generation failed"; echo "0 passed, 1 failed"; exit 1; }
mkdir out

# fails NP DESC PATTERN cmd... : (NP 1: run directly, a singleton MPI process) non-zero exit, exactly one error line matching PATTERN, nothing in out/
fails() {
  local np="$1" desc="$2" pat="$3"; shift 3
  local t0=$(date +%s)
  if [ "$np" = 1 ]; then timeout 60 "$@" > "$T_OUT" 2>&1; else timeout 60 "$MPIEXEC" --oversubscribe -n "$np" "$@" > "$T_OUT" 2>&1; fi
  local rc=$?
  local msg=$(grep '^pof: error:' "$T_OUT")
  if [ $rc -eq 124 ]; then bad "$desc: hang (killed by timeout)"
  elif [ $rc -eq 0 ]; then bad "$desc: exit status 0"
  elif [ "$(grep -c '^pof: error:' "$T_OUT")" != 1 ]; then bad "$desc: $(grep -c '^pof: error:' "$T_OUT") error lines"; cat "$T_OUT"
  elif ! grep -qE -- "$pat" <<< "$msg"; then bad "$desc: message does not match /$pat/: $msg"
  else ok "$desc (n=$np, rc=$rc, $(( $(date +%s) - t0 ))s): ${msg#pof: error: }"; fi
  if [ -n "$(ls -A out)" ]; then bad "$desc: left behind: $(ls -A out | tr '\n' ' ')"; rm -f out/*; fi
}
idx() { # dir [gz] : the four IDX options
  local d="$1" s="${2:-}"
  echo -convert_format idx -convert_train_images $d/train-images-idx3-ubyte$s -convert_train_labels $d/train-labels-idx1-ubyte$s \
    -convert_test_images $d/t10k-images-idx3-ubyte$s -convert_test_labels $d/t10k-labels-idx1-ubyte$s
}
C="convert -convert_output out/o.h5"
fails 1 "IDX wrong magic" "'b/idx-magic/train-images-idx3-ubyte' is not an IDX file: wrong magic number 0x1f9d" "$pof" $C $(idx b/idx-magic)
fails 2 "IDX wrong magic, 2 ranks" "'b/idx-magic/train-images-idx3-ubyte' is not an IDX file: wrong magic number" "$pof" $C $(idx b/idx-magic)
fails 1 "IDX truncated" "'b/idx-trunc/train-images-idx3-ubyte' is truncated" "$pof" $C $(idx b/idx-trunc)
fails 1 "IDX .gz truncated" "'b/idx-trunc-gz/t10k-images-idx3-ubyte.gz' is truncated" "$pof" $C $(idx b/idx-trunc-gz .gz)
fails 1 "IDX .gz without its trailer" "'b/idx-notrailer-gz/train-images-idx3-ubyte.gz' is truncated: its gzip stream ends before the trailer" "$pof" $C $(idx b/idx-notrailer-gz .gz)
fails 2 "IDX .gz with a wrong CRC, 2 ranks" "'b/idx-crc-gz/train-images-idx3-ubyte.gz': corrupt gzip (data while reading the images: .*|stream \\(zlib: )incorrect data check" "$pof" $C $(idx b/idx-crc-gz .gz)
fails 1 "IDX count mismatch" "count mismatch: 'b/idx-count/train-images-idx3-ubyte' holds 50 images but 'b/idx-count/train-labels-idx1-ubyte' holds 49 labels" "$pof" $C $(idx b/idx-count)
fails 2 "IDX test label >= classes, 2 ranks" "label 12 of sample 13 in 'b/idx-label/t10k-labels-idx1-ubyte' >= class count 10" "$pof" $C $(idx b/idx-label)
fails 1 "IDX zero dimension" "'b/idx-zero/train-images-idx3-ubyte': IDX dimension 1 is zero" "$pof" $C $(idx b/idx-zero)
fails 1 "IDX unknown data type" "'b/idx-type/train-images-idx3-ubyte': IDX data type 0x0d is not supported" "$pof" $C $(idx b/idx-type)
fails 1 "IDX wrong dimensions" "'b/idx-dims/train-images-idx3-ubyte': IDX file has 2 dimensions, expected 3" "$pof" $C $(idx b/idx-dims)
fails 1 "IDX train/test shapes differ" "'b/idx-shape/t10k-images-idx3-ubyte' holds 1 x 7 x 8 images but 'b/idx-shape/train-images-idx3-ubyte' holds 1 x 7 x 9" "$pof" $C $(idx b/idx-shape)
fails 1 "IDX more data than declared" "'b/idx-extra/train-images-idx3-ubyte' holds more data than its IDX header declares" "$pof" $C $(idx b/idx-extra)
fails 1 "IDX missing file" "cannot open IDX file 'b/nothere/train-images-idx3-ubyte': No such file" "$pof" $C $(idx b/nothere)
fails 1 "CIFAR-10 truncated" "'b/cifar10-trunc/data_batch_3.bin' has 21411 bytes, not a positive multiple of the 3073-byte CIFAR-10 record" "$pof" $C -convert_format cifar10 -convert_input_dir b/cifar10-trunc
fails 1 "CIFAR-10 label >= classes" "label 10 of sample 4 in 'b/cifar10-label/data_batch_2.bin' >= class count 10" "$pof" $C -convert_format cifar10 -convert_input_dir b/cifar10-label
fails 2 "CIFAR-10 missing test batch, 2 ranks" "cannot open CIFAR-10 batch 'b/cifar10-missing/test_batch.bin': No such file" "$pof" $C -convert_format cifar10 -convert_input_dir b/cifar10-missing
fails 1 "CIFAR-100 fine label >= classes" "'b/cifar100-label/test.bin': record 2 has coarse label [0-9]+ and fine label 100, not in" "$pof" $C -convert_format cifar100 -convert_input_dir b/cifar100-label
fails 1 "CIFAR-10 reader on CIFAR-100 files" "cannot open CIFAR-10 batch 'g/cifar100/data_batch_1.bin'" "$pof" $C -convert_format cifar10 -convert_input_dir g/cifar100
fails 1 "SVHN label not in 1..10" "label 11 of sample 4 in 'b/svhn-label/train_32x32.mat' is not in 1..10" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-label
fails 1 "SVHN count mismatch" "count mismatch in 'b/svhn-count/test_32x32.mat': X holds 9 images but y holds 8 labels" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-count
fails 1 "SVHN not a .mat file" "'b/svhn-magic/train_32x32.mat' is not a MATLAB v5 .mat file: wrong magic" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-magic
fails 1 "SVHN MATLAB v7.3 file" "'b/svhn-v73/train_32x32.mat' is a MATLAB v7.3 \(HDF5-based\) .mat file, which is not supported" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-v73
fails 1 "SVHN compressed, truncated" "'b/svhn-trunc-z/train_32x32.mat' is truncated" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-trunc-z
fails 1 "SVHN compressed, corrupt" "'b/svhn-corrupt-z/test_32x32.mat': corrupt" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-corrupt-z
fails 1 "SVHN compressed, bad checksum" "'b/svhn-crc-z/test_32x32.mat': corrupt compressed data" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-crc-z
fails 1 "SVHN uncompressed, truncated" "'b/svhn-trunc/train_32x32.mat' is truncated" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-trunc
fails 1 "SVHN without X" "'b/svhn-nox/test_32x32.mat' has no variable X" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-nox
fails 1 "SVHN X with 3 dimensions" "'b/svhn-dims/test_32x32.mat': variable X has 3 dimensions, expected 4" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-dims
fails 1 "SVHN zero dimension" "'b/svhn-zero/train_32x32.mat': variable X has a zero dimension" "$pof" $C -convert_format svhn -convert_input_dir b/svhn-zero
fails 1 "unknown format" "Unknown option bogus for -convert_format" "$pof" $C -convert_format bogus -convert_input_dir g/cifar10
fails 1 "output directory missing" "cannot create 'out/missing/o.h5.tmp" "$pof" convert -convert_output out/missing/o.h5 -convert_format cifar10 -convert_input_dir g/cifar10
# an existing output survives a failed conversion untouched
mkdir keep; echo "previous result" > keep/o.h5
timeout 60 "$pof" convert -convert_output keep/o.h5 -convert_format cifar10 -convert_input_dir b/cifar10-label > /dev/null 2>&1
[ $? -ne 0 ] && [ "$(cat keep/o.h5)" = "previous result" ] && [ "$(ls keep)" = o.h5 ] \
  && ok "failed conversion leaves the existing output untouched" || bad "existing output damaged: $(ls keep)"

# loader: broken dataset files made from a good one
"$pof" convert -convert_output good.h5 $(idx g/idx) > /dev/null || bad "convert good.h5"
$py "$here/gen_fixtures.py" badh5 h good.h5 || bad "badh5 generation"
L() { # np desc pattern file options...
  local np="$1" desc="$2" pat="$3" f="$4"; shift 4
  fails "$np" "loader: $desc" "$pat" "$probe" -data_file "$f" "$@"
}
for np in 1 2; do
  L $np "non-HDF5 file" "dataset file 'h/not-hdf5.h5' is not an HDF5 file" h/not-hdf5.h5
  L $np "missing file" "cannot read dataset file 'h/missing.h5': No such file" h/missing.h5
  L $np "missing group" "dataset file 'h/no-test-group.h5' has no group /test" h/no-test-group.h5
  L $np "missing dataset" "dataset file 'h/no-train-labels.h5' has no dataset /train/labels" h/no-train-labels.h5
  L $np "wrong dimensions" "dataset file 'h/wrong-dims.h5': /train/images has 3 dimensions, expected 4" h/wrong-dims.h5
  L $np "missing attribute" "dataset file 'h/no-mean.h5' has no attribute 'mean'" h/no-mean.h5
  L $np "label >= classes" "dataset file 'h/bad-label.h5': label 10 of sample 5 in /test/labels is outside \[0, 10\)" h/bad-label.h5
  L $np "count mismatch" "dataset file 'h/count-mismatch.h5': /train holds 50 images but 49 labels" h/count-mismatch.h5
  L $np "shape attributes disagree" "dataset file 'h/wrong-channels.h5': /train/images is N x 1 x 7 x 9 but the attributes say 3 x 7 x 9" h/wrong-channels.h5
  L $np "zero std" "dataset file 'h/zero-std.h5': channel 0 has mean .*, std 0\.? \(std must be positive" h/zero-std.h5
  L $np "name attribute: array of strings" "dataset file 'h/name-array.h5': attribute 'name' must be one string, it holds 16" h/name-array.h5
  L $np "name attribute: array of variable-length strings" "dataset file 'h/name-vlen-array.h5': attribute 'name' must be one string, it holds 3" h/name-vlen-array.h5
  L $np "name attribute: a number" "dataset file 'h/name-number.h5': attribute 'name' must be a string" h/name-number.h5
  L $np "subset too large" "-data_train_subset 51 exceeds the 50 training samples of 'good.h5'" good.h5 -data_train_subset 51
done
L 3 "label >= classes, 3 ranks" "label 10 of sample 5 in /test/labels is outside" h/bad-label.h5
L 2 "non-HDF5 file image" "dataset file image \([0-9]+ bytes\) is not an HDF5 file" h/not-hdf5.h5 -probe_image
L 2 "file image without /test" "dataset file '<in-memory file image>' has no group /test" h/no-test-group.h5 -probe_image
# the command that crashed (SIGSEGV in PETSc's handler, exit 59): pof eval of a model on such a file
fails 2 "pof eval on a dataset with an array-valued name" "dataset file 'h/name-array.h5': attribute 'name' must be one string" "$pof" eval -data_file h/name-array.h5 -model_in nothere.h5
expect_rc 0 "loader: the good file opens" timeout 60 "$MPIEXEC" --oversubscribe -n 2 "$probe" -data_file good.h5
finish
