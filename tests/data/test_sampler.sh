#!/bin/bash
# The loader at 1, 2, 3 and 4 ranks on a small 3x32x32 dataset (200 train, 37 test): gathered
# global batches (indices, labels and every augmented float) are byte-identical across rank
# counts, in replicate mode and from an in-memory file image; they match the independent
# Python reimplementation (ref_loader.py) bit for bit; each epoch draws distinct samples (every
# sample exactly once when the batch divides the training set); another seed gives another
# order; evaluation covers every sample once.
pof="$1"; src="$2"; dump="$3"
. "$src/tests/shell/lib.sh"
py=/usr/bin/python3; here="$src/tests/data"
workdir data-sampler
$py "$here/ref_loader.py" selftest > /dev/null && ok "Python reference: Philox known answers" || bad "Python reference selftest"
$py "$here/gen_fixtures.py" good g || { echo "fixture generation failed"; echo "0 passed, 1 failed"; exit 1; }
"$pof" convert -convert_format cifar10 -convert_input_dir g/sampler -convert_output s.h5 > /dev/null || { echo "convert failed"; echo "0 passed, 1 failed"; exit 1; }

run() { # ranks out options...
  local n="$1" out="$2"; shift 2
  expect_rc 0 "sampler_dump n=$n $*" timeout 120 "$MPIEXEC" --oversubscribe -n "$n" "$dump" -data_file s.h5 -dump_out "$out" "$@"
}
same() { cmp -s "$1" "$2" && ok "$3" || bad "$3 ($1 and $2 differ)"; }
A="-run_seed 7 -data_cutout 8"
for n in 1 2 3 4; do run $n d$n.bin $A; done
for n in 2 3 4; do same d1.bin d$n.bin "global batches identical at 1 and $n ranks"; done
expect_rc 0 "1 rank matches the Python reference bit for bit" $py "$here/ref_loader.py" check s.h5 d1.bin
run 2 rep2.bin $A -data_replicate
same d1.bin rep2.bin "replicate mode (2 ranks) identical to exchanged"
run 3 img3.bin $A -dump_image
same d1.bin img3.bin "in-memory file image (3 ranks) identical"
run 1 s8.bin -run_seed 8 -data_cutout 8
cmp -s d1.bin s8.bin && bad "seed 8 gives the same batches as seed 7" || ok "another seed gives other batches"
expect_rc 0 "seed 8 matches the reference" $py "$here/ref_loader.py" check s.h5 s8.bin
# a subset the batch divides: every sample exactly once per epoch (checked by the reference too)
run 4 sub4.bin -run_seed 3 -data_train_subset 192 -data_crop_pad 2 -data_flip 0 -dump_batch 16 -dump_eval_batch 7
run 1 sub1.bin -run_seed 3 -data_train_subset 192 -data_crop_pad 2 -data_flip 0 -dump_batch 16 -dump_eval_batch 7
same sub1.bin sub4.bin "subset 192, batch 16: identical at 1 and 4 ranks"
expect_rc 0 "subset: every sample exactly once per epoch (reference)" $py "$here/ref_loader.py" check s.h5 sub4.bin
run 3 noaug3.bin -run_seed 3 -data_augment 0 -dump_batch 9 -dump_eval_batch 200
expect_rc 0 "no augmentation, batch 9, one evaluation batch: matches the reference" $py "$here/ref_loader.py" check s.h5 noaug3.bin
# errors: the batch must divide by the rank count; one message, every rank stops
expect_rc nonzero "batch 12 at 5 ranks is an error" timeout 60 "$MPIEXEC" --oversubscribe -n 5 "$dump" -data_file s.h5 -dump_out x.bin
expect_out "global batch 12 must be positive and divisible by the 5 ranks" "message names the batch and the rank count"
expect_rc nonzero "a cutout larger than the images is an error" timeout 60 "$MPIEXEC" --oversubscribe -n 2 "$dump" -data_file s.h5 -dump_out x.bin -data_cutout 33
expect_out "-data_cutout 33 is larger than the 32x32 images of 's.h5'" "message names the cutout and the image size"
expect_rc nonzero "... also from an in-memory image" timeout 60 "$MPIEXEC" --oversubscribe -n 2 "$dump" -data_file s.h5 -dump_out x.bin -data_cutout 33 -dump_image
expect_out "-data_cutout 33 is larger than the 32x32 images" "image path: message names the cutout"
expect_rc nonzero "a crop padding as large as the images is an error" timeout 60 "$MPIEXEC" --oversubscribe -n 2 "$dump" -data_file s.h5 -dump_out x.bin -data_crop_pad 32
expect_out "-data_crop_pad 32 is not smaller than the 32x32 images of 's.h5'" "message names the padding and the image size"
expect_rc 0 "a crop padding of 31 on 32x32 images is accepted" timeout 60 "$MPIEXEC" --oversubscribe -n 2 "$dump" -data_file s.h5 -dump_out x.bin -data_crop_pad 31
finish
