#!/bin/bash
# pof convert round trips on small generated inputs: IDX (plain and .gz), CIFAR-10, CIFAR-100
# (fine and coarse), SVHN .mat (uncompressed, miCOMPRESSED with extra, big-endian): every pixel and
# label, the attributes, the provenance; at 2 ranks only rank 0 writes, same file contents.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
py=/usr/bin/python3; here="$src/tests/data"
workdir data-convert
$py "$here/gen_fixtures.py" good g || { echo "fixture generation failed"; echo "0 passed, 1 failed"; exit 1; }

convert_check() { # case name expected-name ranks options...
  local k="$1" name="$2" np="$3"; shift 3
  expect_rc 0 "convert $k ($np rank(s))" timeout 120 "$MPIEXEC" --oversubscribe -n "$np" "$pof" convert "$@" -convert_output "$k.h5"
  tail -1 "$T_OUT" | $py -c 'import json,sys; d=json.loads(sys.stdin.read()); assert d["output"].endswith(".h5") and d["n_train"]>0' \
    && ok "$k: last line is the JSON summary" || { bad "$k: last line is not the JSON summary"; tail -2 "$T_OUT"; }
  expect_rc 0 "$k: pixels, labels, attributes, provenance" $py "$here/check_h5.py" "g/$k.npz" "$k.h5" "$name"
  ls $k.h5.tmp.* > /dev/null 2>&1 && bad "$k: temporary file left behind" || ok "$k: no temporary file left"
}
I=g/idx
convert_check idx idx 1 -convert_format idx -convert_train_images $I/train-images-idx3-ubyte -convert_train_labels $I/train-labels-idx1-ubyte \
  -convert_test_images $I/t10k-images-idx3-ubyte -convert_test_labels $I/t10k-labels-idx1-ubyte
I=g/idx-gz
convert_check idx-gz idx-gz 1 -convert_format idx -convert_train_images $I/train-images-idx3-ubyte.gz -convert_train_labels $I/train-labels-idx1-ubyte.gz \
  -convert_test_images $I/t10k-images-idx3-ubyte.gz -convert_test_labels $I/t10k-labels-idx1-ubyte.gz
convert_check cifar10 cifar10 1 -convert_format cifar10 -convert_input_dir g/cifar10
convert_check cifar100 cifar100 1 -convert_format cifar100 -convert_input_dir g/cifar100
convert_check cifar100-coarse my-coarse 1 -convert_format cifar100 -convert_cifar100_coarse -convert_input_dir g/cifar100 -convert_name my-coarse
convert_check svhn svhn 1 -convert_format svhn -convert_input_dir g/svhn
convert_check svhn-be svhn 1 -convert_format svhn -convert_input_dir g/svhn-be
convert_check svhn-z svhn+extra 2 -convert_format svhn -convert_svhn_extra -convert_input_dir g/svhn-z
# the same conversion at 1 and 3 ranks gives the same datasets
mv cifar10.h5 cifar10-1.h5
convert_check cifar10 cifar10 3 -convert_format cifar10 -convert_input_dir g/cifar10
h5diff cifar10-1.h5 cifar10.h5 > diff.txt 2>&1 && ok "1 and 3 ranks: identical contents (h5diff)" || { bad "1 vs 3 ranks differ"; head diff.txt; }
expect_rc 0 "convert -help" "$pof" convert -help
expect_out "-convert_svhn_extra" "help lists -convert_svhn_extra"
expect_out "-convert_name" "help lists -convert_name"
finish
