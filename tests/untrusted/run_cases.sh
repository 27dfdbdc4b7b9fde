#!/bin/bash
# The adversarial set (issue 29): every reader pof has, fed inputs made to break it
# (tests/untrusted/gen_inputs.py). Each case runs pof once (1 rank; a few at 2 ranks) and must
# exit with status 1, print exactly one "pof: error:" line matching its own pattern (naming the file
# and the problem), print no sanitizer report, and leave nothing behind in its output directory;
# afterwards every input file must be unchanged (checksums before and after). The cases run 4 at a
# time: a pof run waits for MPI most of its ~1.5 s (2 cores' worth of CPU at most). Outside the
# ASan build every run has PETSc's -malloc_debug -malloc_dump, and a case fails when PETSc lists
# memory left allocated at PetscFinalize (in the ASan build LeakSanitizer checks instead:
# -malloc_debug would keep PETSc's blocks reachable from its list, hidden from LeakSanitizer).
# Usage: run_cases.sh POF SRC_DIR
export OMPI_MCA_odls_base_sigkill_timeout=0
# a 1-rank case is a singleton: without this Open MPI starts an orted for it (about 0.5 s more)
export OMPI_MCA_ess_singleton_isolated=1
# (such a singleton has no session directory, where the shared-memory file-pointer component of
# MPI-IO would put its file: that component is not needed and would only complain)
export OMPI_MCA_sharedfp=^sm
pof="$(realpath "$1")"; src="$(realpath "$2")"
ldd "$pof" | grep -q libasan || export PETSC_OPTIONS="-malloc_debug -malloc_dump ${PETSC_OPTIONS:-}"
. "$src/tests/shell/lib.sh"
workdir untrusted
/usr/bin/python3 "$src/tests/untrusted/gen_inputs.py" "$PWD/in" > gen.log 2>&1 \
  || { cat gen.log; echo "input generation failed"; echo "0 passed, 1 failed"; exit 1; }
cd in || exit 1
find . -type f | sort | xargs md5sum > ../sums.before
mkdir ../cases ../out

# c NAME NP PATTERN POF-ARGS... : one case (its output directory is ../out/NAME, given as $O)
n=0
c() {
  local name="$1" np="$2" pat="$3"; shift 3
  n=$((n + 1))
  printf '%s\n' "$name" "$np" "$pat" "$@" > "../cases/$(printf %03d $n)-$name"
}
idx() { # DIR [.gz]: the four IDX options of pof convert
  local d="$1" s="${2:-}"
  echo -convert_format idx -convert_train_images $d/train-images-idx3-ubyte$s \
    -convert_train_labels $d/train-labels-idx1-ubyte$s -convert_test_images $d/t10k-images-idx3-ubyte$s \
    -convert_test_labels $d/t10k-labels-idx1-ubyte$s
}
CV="convert -convert_output \$O/o.h5"
EV="eval -data_file data-good.h5 -model_in"

# --- IDX (plain)
c idx-magic 1 "'idx-magic/train-images-idx3-ubyte' is not an IDX file: wrong magic number 0x1f9d" $CV $(idx idx-magic)
c idx-type 1 "'idx-type/train-images-idx3-ubyte': IDX data type 0x0d is not supported" $CV $(idx idx-type)
c idx-ndim 1 "'idx-ndim/train-images-idx3-ubyte': IDX file has 2 dimensions, expected 3" $CV $(idx idx-ndim)
c idx-zero 1 "'idx-zero/train-images-idx3-ubyte': IDX dimension 1 is zero" $CV $(idx idx-zero)
c idx-huge 1 "'idx-huge/train-images-idx3-ubyte': IDX dimensions 6 x 70000 x 5 are too large" $CV $(idx idx-huge)
c idx-trunc 1 "'idx-trunc/train-images-idx3-ubyte' is truncated: it has 129 bytes but its IDX header declares 6 x 4 x 5 \(136 bytes" $CV $(idx idx-trunc)
c idx-extra 1 "'idx-extra/train-images-idx3-ubyte' holds more data than its IDX header declares \(count mismatch between header and file size: 156 bytes, the header implies 136\)" $CV $(idx idx-extra)
c idx-labelhdr 1 "'idx-labelhdr/train-labels-idx1-ubyte' holds more data than its IDX header declares" $CV $(idx idx-labelhdr)
c idx-count 1 "count mismatch: 'idx-count/train-images-idx3-ubyte' holds 6 images but 'idx-count/train-labels-idx1-ubyte' holds 5 labels" $CV $(idx idx-count)
c idx-testlabel 2 "label 7 of sample 2 in 'idx-testlabel/t10k-labels-idx1-ubyte' >= class count 3 \(1 \+ the largest training label\)" $CV $(idx idx-testlabel)
c idx-shape 1 "'idx-shape/t10k-images-idx3-ubyte' holds 1 x 4 x 6 images but 'idx-shape/train-images-idx3-ubyte' holds 1 x 4 x 5" $CV $(idx idx-shape)
c idx-missing 1 "cannot open IDX file 'nothere/train-images-idx3-ubyte': No such file" $CV $(idx nothere)
# --- IDX (gzip)
c gz-trunc 1 "'gz-trunc/t10k-images-idx3-ubyte.gz' is truncated: it ends after" $CV $(idx gz-trunc .gz)
c gz-notrailer 1 "'gz-notrailer/train-images-idx3-ubyte.gz' is truncated: its gzip stream ends before the trailer" $CV $(idx gz-notrailer .gz)
c gz-crc 1 "'gz-crc/train-images-idx3-ubyte.gz': corrupt gzip (data while reading .*|stream \(zlib: )incorrect data check" $CV $(idx gz-crc .gz)
c gz-bomb 1 "'gz-bomb/train-images-idx3-ubyte.gz': its IDX header declares 60000 x 28 x 28 \(47040016 bytes\), more than its [0-9]+ compressed bytes can hold \(deflate expands at most 1032 times\)" $CV $(idx gz-bomb .gz)
c gz-cap 1 "'gz-cap/train-images-idx3-ubyte.gz': its IDX header declares 1000000000 x 300 x 300 = 90000000000000 bytes, more than the 68719476736 pof reads from one file" $CV $(idx gz-cap .gz)
c gz-bigimage 1 "'gz-bigimage/train-images-idx3-ubyte.gz': images of 1 x 65536 x 1025 bytes are larger than the 64 MiB pof takes per image" $CV $(idx gz-bigimage .gz)
c gz-garbage 1 "'gz-garbage/train-images-idx3-ubyte.gz': corrupt gzip data while reading the IDX header" $CV $(idx gz-garbage .gz)
# --- CIFAR binary
c cifar10-size 1 "'cifar10-size/data_batch_2.bin' has 9119 bytes, not a positive multiple of the 3073-byte CIFAR-10 record" $CV -convert_format cifar10 -convert_input_dir cifar10-size
c cifar10-empty 1 "'cifar10-empty/test_batch.bin' has 0 bytes, not a positive multiple" $CV -convert_format cifar10 -convert_input_dir cifar10-empty
c cifar10-label 2 "label 10 of sample 1 in 'cifar10-label/data_batch_4.bin' >= class count 10" $CV -convert_format cifar10 -convert_input_dir cifar10-label
c cifar10-missing 1 "cannot open CIFAR-10 batch 'cifar10-missing/test_batch.bin': No such file" $CV -convert_format cifar10 -convert_input_dir cifar10-missing
c cifar100-coarse 1 "'cifar100-coarse/train.bin': record 2 has coarse label 25 and fine label [0-9]+, not in \[0, 20\) and \[0, 100\) \(not a CIFAR-100 batch\?\)" $CV -convert_format cifar100 -convert_input_dir cifar100-coarse
c cifar100-fine 1 "'cifar100-fine/test.bin': record 1 has coarse label [0-9]+ and fine label 100" $CV -convert_format cifar100 -convert_input_dir cifar100-fine -convert_cifar100_coarse 1
# --- SVHN (MATLAB v5)
SV="$CV -convert_format svhn -convert_input_dir"
c svhn-magic 1 "'svhn-magic/train_32x32.mat' is not a MATLAB v5 .mat file: wrong magic" $SV svhn-magic
c svhn-v73 1 "'svhn-v73/train_32x32.mat' is a MATLAB v7.3 \(HDF5-based\) .mat file, which is not supported" $SV svhn-v73
c svhn-short 1 "'svhn-short/test_32x32.mat' is not a MATLAB v5 .mat file: 19 bytes, shorter than the 128-byte header" $SV svhn-short
c svhn-bom 1 "'svhn-bom/train_32x32.mat': bad byte-order mark in the .mat header" $SV svhn-bom
c svhn-label 1 "label 11 of sample 2 in 'svhn-label/train_32x32.mat' is not in 1..10" $SV svhn-label
c svhn-dims 1 "'svhn-dims/train_32x32.mat': variable X has 3 dimensions, expected 4" $SV svhn-dims
c svhn-bigdim 1 "'svhn-bigdim/train_32x32.mat': variable X is 70000 x 3 x 3 x 5: images of at most 65536 x 65536 x 16" $SV svhn-bigdim
c svhn-xbytes 1 "'svhn-xbytes/train_32x32.mat': variable X holds 180 bytes but its dimensions 4 x 3 x 3 x 6 need 216" $SV svhn-xbytes
c svhn-count 2 "count mismatch in 'svhn-count/test_32x32.mat': X holds 5 images but y holds 4 labels" $SV svhn-count
c svhn-nox 1 "'svhn-nox/test_32x32.mat' has no variable X" $SV svhn-nox
c svhn-ytype 1 "'svhn-ytype/train_32x32.mat': variable y has unsupported data type 16" $SV svhn-ytype
c svhn-trunc 1 "'svhn-trunc/train_32x32.mat' is truncated: the data element at byte [0-9]+ declares" $SV svhn-trunc
c svhn-z-bomb 1 "'svhn-z-bomb/train_32x32.mat': the compressed data element at byte 128 declares 4294967280 bytes, more than its [0-9]+ compressed bytes can hold" $SV svhn-z-bomb
c svhn-z-more 1 "'svhn-z-more/train_32x32.mat': the compressed data element at byte 128 inflates to more than the [0-9]+ bytes its tag declares" $SV svhn-z-more
# --- pof's HDF5 dataset (pof eval reads the dataset before the model)
DV="eval -model_in model-good.h5 -data_file"
c data-not-hdf5 1 "dataset file 'data-not-hdf5.h5' is not an HDF5 file" $DV data-not-hdf5.h5
c data-no-test 1 "dataset file 'data-no-test.h5' has no group /test" $DV data-no-test.h5
c data-dims 1 "dataset file 'data-dims.h5': /train/images has 3 dimensions, expected 4" $DV data-dims.h5
c data-float-images 1 "dataset file 'data-float-images.h5': /test/images must hold 8-bit unsigned integers" $DV data-float-images.h5
c data-classes-float 1 "dataset file 'data-classes-float.h5': attribute 'classes' must be one integer, it holds 1 value\(s\) of HDF5 class 1" $DV data-classes-float.h5
c data-classes-array 1 "dataset file 'data-classes-array.h5': attribute 'classes' must be one integer, it holds 2 value" $DV data-classes-array.h5
c data-classes-huge 2 "dataset file 'data-classes-huge.h5': classes attribute is 10000000, pof supports 1 to 100000" $DV data-classes-huge.h5
c data-mean-string 1 "dataset file 'data-mean-string.h5': attribute 'mean' must hold numbers \(HDF5 class 3\)" $DV data-mean-string.h5
c data-mean-count 1 "dataset file 'data-mean-count.h5': attribute 'mean' has 2 values, expected one per channel \(1\)" $DV data-mean-count.h5
c data-std-nan 1 "dataset file 'data-std-nan.h5': channel 0 has mean 0.5, std nan\.? \(std must be positive and finite\)" $DV data-std-nan.h5
c data-no-width 1 "dataset file 'data-no-width.h5' has no attribute 'width'" $DV data-no-width.h5
c data-label 1 "dataset file 'data-label.h5': label 3 of sample 2 in /test/labels is outside \[0, 3\)" $DV data-label.h5
c data-count 1 "dataset file 'data-count.h5': /train holds 8 images but 7 labels" $DV data-count.h5
c data-name-array 1 "dataset file 'data-name-array.h5': attribute 'name' must be one string, it holds 2" $DV data-name-array.h5
c data-overflow 1 "dataset file 'data-overflow.h5': the dimensions of /train/images overflow" $DV data-overflow.h5
c data-unstored 1 "dataset file 'data-unstored.h5': /train/images declares 67108864 bytes but the file stores 0 for it" $DV data-unstored.h5
# --- pof's model and checkpoint files (pof eval -model_in; one through pof posttrain, whose run
#     directory must not be made)
c model-nan 1 "model file 'model-nan.h5': parameter layer2.0.conv1.weight\[5\] is nan \(not finite\)" $EV model-nan.h5
c model-inf 2 "model file 'model-inf.h5': parameter linear.bias\[1\] is inf \(not finite\)" $EV model-inf.h5
c model-big 1 "model file 'model-big.h5': parameter bn1.bias\[0\] is inf \(not finite\)" $EV model-big.h5
c model-running-nan 1 "model file 'model-running-nan.h5': BN statistic layer1.0.bn1.running_var\[1\] is nan" $EV model-running-nan.h5
c model-arch 1 "model file 'model-arch.h5' names a WRN-16-1 \(base 4, 3 classes\) of n_params [0-9]+, n_feature [0-9]+, n_bn_state [0-9]+, but holds n_params" $EV model-arch.h5
c model-arch-post 1 "model file 'model-arch.h5' names a WRN-16-1" posttrain -data_file data-good.h5 -run_dir \$O/run -opt_batch 4 -model_in model-arch.h5
c model-depth-6n4 1 "checkpoint model-depth-6n4.h5: field 'depth' = 12 is not 6n\+4" $EV model-depth-6n4.h5
c model-depth-huge 1 "checkpoint model-depth-huge.h5: field 'depth' = 1000000 is out of range \[10, 1000\]" $EV model-depth-huge.h5
c model-too-large 1 "model file 'model-too-large.h5': WRN-994-64 \(base 256, 1x8x8 input, 3 classes\) is too large" $EV model-too-large.h5
c model-classes 1 "checkpoint model-classes.h5: field 'classes' = 1 is out of range \[2, 100000\]" $EV model-classes.h5
c model-epochs 1 "checkpoint model-epochs.h5: field 'epochs_done' = -1 is out of range" $EV model-epochs.h5
c model-start 1 "checkpoint model-start.h5: field 'run_start_epoch' = 5 is out of range \[0, 2\]" $EV model-start.h5
c model-seed 1 "checkpoint model-seed.h5: field 'seed' = -5 is out of range" $EV model-seed.h5
c model-schedule 1 "checkpoint model-schedule.h5: field 'schedule' = 7 is out of range \[0, 2\]" $EV model-schedule.h5
c model-milestone 1 "checkpoint model-milestone.h5: field 'milestones' entry 1 = -3 is out of range" $EV model-milestone.h5
c model-lr-nan 1 "checkpoint model-lr-nan.h5: field 'lr_base' = nan is not a finite value >= 0" $EV model-lr-nan.h5
c model-post-lr 1 "checkpoint model-post-lr.h5: field 'post_lr' = -0.5 is not a finite value >= 0" $EV model-post-lr.h5
c model-acc 1 "checkpoint model-acc.h5: field 'acc_wrong' = 9 is out of range \[0, 4\]" $EV model-acc.h5
c model-acc-stat 1 "checkpoint model-acc-stat.h5: fields 'acc_stat_s', 'acc_stat_s2', 'acc_stat_n' entry 2 = inf" $EV model-acc-stat.h5
c model-momentum-flag 1 "checkpoint model-momentum-flag.h5: field 'have_momentum' = 2 is out of range \[0, 1\]" $EV model-momentum-flag.h5
c model-int-big 1 "checkpoint model-int-big.h5: attribute 'global_step' = 1099511627776 is out of range" $EV model-int-big.h5
c model-attr-array 1 "checkpoint model-attr-array.h5: attribute 'epochs_done' should hold 1 integer value\(s\)" $EV model-attr-array.h5
c model-attr-string 1 "checkpoint model-attr-string.h5: attribute 'seed' should hold 1 integer value\(s\)" $EV model-attr-string.h5
c model-attr-missing 1 "checkpoint model-attr-missing.h5 lacks the attribute 'seed'" $EV model-attr-missing.h5
c model-kind 1 "checkpoint model-kind.h5: kind 'finetune' is neither 'pretrain' nor 'posttrain'" $EV model-kind.h5
c model-version 1 "checkpoint model-version.h5 has format version 2, this pof reads version 1" $EV model-version.h5
c model-incomplete 1 "checkpoint model-incomplete.h5 is incomplete \(no 'complete' mark\)" $EV model-incomplete.h5
c model-params-2d 1 "checkpoint model-params-2d.h5: dataset /params has 2 dimensions, expected 1" $EV model-params-2d.h5
c model-params-int 1 "checkpoint model-params-int.h5: dataset /params should hold double values" $EV model-params-int.h5
c model-bn-short 1 "checkpoint model-bn-short.h5: dataset /bn_running has [0-9]+ values, but n_bn_state = [0-9]+" $EV model-bn-short.h5
c model-crc 1 "checkpoint model-crc.h5 is corrupt: the data of /params do not match their checksum" $EV model-crc.h5
c model-trunc 1 "checkpoint model-trunc.h5 is truncated or damaged: HDF5 cannot open it" $EV model-trunc.h5
c model-is-data 1 "data-good.h5 is not a pof model or checkpoint \(no 'n_params' attribute\): it is a dataset written by pof convert" $EV data-good.h5

# one case: run it, judge it; prints "ok ..." or "FAIL ..." lines (run in parallel, 4 at a time)
run_case() {
  local f="$1" name np pat args=() line
  { read -r name; read -r np; read -r pat; while read -r line; do args+=("$line"); done; } < "$f"
  local O="../out/$name"
  mkdir -p "$O"
  args=("${args[@]//\$O/$O}")
  local log="../out/$name.log" t0=$(date +%s.%N)
  # each case its own TMPDIR: isolated singletons share Open MPI's session directory name
  # (/tmp/ompi.HOST.UID/jf.0), which one of them may remove while another creates it
  mkdir -p "../tmp/$name"; export TMPDIR="$PWD/../tmp/$name"
  if [ "$np" = 1 ]; then timeout 120 "$pof" "${args[@]}" > "$log" 2>&1
  else timeout 120 "$MPIEXEC" --oversubscribe -n "$np" "$pof" "${args[@]}" > "$log" 2>&1; fi
  local rc=$? msgs; msgs=$(grep -c '^pof: error:' "$log")
  local t=$(printf %.1f "$(echo "$(date +%s.%N) - $t0" | bc)") why=""
  if [ $rc -eq 124 ]; then why="hang (killed after 120 s)"
  elif [ $rc -ne 1 ]; then why="exit status $rc, not 1"
  elif [ "$msgs" -ne 1 ]; then why="$msgs error lines"
  elif ! grep '^pof: error:' "$log" | grep -qE -- "$pat"; then why="message does not match /$pat/"
  elif grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$log"; then why="sanitizer report"
  elif grep -qE '^\[ *[0-9]+\] *[0-9]+ bytes ' "$log"; then why="PETSc -malloc_dump: memory left allocated"
  elif [ -n "$(ls -A "$O")" ]; then why="left behind: $(ls -A "$O" | tr '\n' ' ')"; fi
  if [ -z "$why" ]; then echo "ok $name (n=$np, ${t}s): $(grep '^pof: error:' "$log" | cut -c13-220)"
  else echo "FAIL $name (n=$np): $why"; sed 's/^/    /' "$log" | head -40; fi
}
export -f run_case
export pof MPIEXEC
ls ../cases | sed 's|^|../cases/|' | xargs -P 4 -I{} bash -c 'run_case {}' > ../results.txt 2>&1
while read -r line; do
  case "$line" in ok\ *) ok "${line#ok }" ;; FAIL\ *) bad "${line#FAIL }" ;; *) echo "$line" ;; esac
done < ../results.txt
[ "$(grep -c '^ok ' ../results.txt)" -eq "$n" ] && ok "all $n cases ran" || bad "only $(grep -c '^ok ' ../results.txt) of $n cases passed"

# positive controls: the good inputs the bad ones were made from are accepted
expect_rc 0 "good IDX converts" "$pof" convert -convert_output ../out/idx.h5 $(idx idx-good)
expect_rc 0 "good IDX .gz converts" "$pof" convert -convert_output ../out/gz.h5 $(idx idx-gz-good .gz)
expect_rc 0 "good CIFAR-100 converts" "$pof" convert -convert_output ../out/c.h5 -convert_format cifar100 -convert_input_dir cifar100-good
expect_rc 0 "good SVHN converts" "$pof" convert -convert_output ../out/s.h5 -convert_format svhn -convert_input_dir svhn-good
expect_rc 0 "good model evaluates on the good dataset" "$pof" $EV model-good.h5
# nothing changed and nothing added among the inputs
md5sum --quiet -c ../sums.before > ../sums.check 2>&1 && ok "every input file unchanged (md5)" \
  || { bad "input files changed"; cat ../sums.check; }
[ "$(find . -type f | wc -l)" -eq "$(wc -l < ../sums.before)" ] && ok "no file added among the inputs" \
  || bad "files added: $(find . -type f -newer ../sums.before | tr '\n' ' ')"
cd .. && finish
