#!/bin/bash
# The real Fashion-MNIST (Debian's dataset-fashion-mnist): convert, then check counts, classes,
# statistics and every pixel against the .gz files; the loader at 2 ranks counts 6000 samples
# of each class in a full evaluation pass.
pof="$1"; src="$2"; dump="$3"; probe="$4"
. "$src/tests/shell/lib.sh"
D=/usr/share/datasets/fashion-mnist
workdir data-fashion
if [ ! -f $D/train-images-idx3-ubyte.gz ]; then echo "FAIL $D missing (apt-get install dataset-fashion-mnist)"; echo "0 passed, 1 failed"; exit 1; fi
expect_rc 0 "convert Fashion-MNIST" timeout 120 "$pof" convert -convert_format idx \
  -convert_train_images $D/train-images-idx3-ubyte.gz -convert_train_labels $D/train-labels-idx1-ubyte.gz \
  -convert_test_images $D/t10k-images-idx3-ubyte.gz -convert_test_labels $D/t10k-labels-idx1-ubyte.gz -convert_output fm.h5
tail -1 "$T_OUT" > summary.json
/usr/bin/python3 - "$D" fm.h5 summary.json <<'PY' && ok "60000/10000, 6000 per class, mean 0.286, std 0.353, every pixel and label" || bad "Fashion-MNIST contents"
import gzip, json, sys
import h5py, numpy as np
d, h5, js = sys.argv[1:]
s = json.load(open(js))
assert (s["n_train"], s["n_test"], s["shape"], s["classes"], s["name"]) == (60000, 10000, [1, 28, 28], 10, "fashion-mnist"), s
assert abs(s["mean"][0] - 0.2860) < 5e-4 and abs(s["std"][0] - 0.3530) < 5e-4, s
def idx(name, off):
    return np.frombuffer(gzip.open(f"{d}/{name}").read(), np.uint8, offset=off)
with h5py.File(h5) as f:
    assert np.array_equal(f["train/images"][...].ravel(), idx("train-images-idx3-ubyte.gz", 16))
    assert np.array_equal(f["test/images"][...].ravel(), idx("t10k-images-idx3-ubyte.gz", 16))
    assert np.array_equal(f["train/labels"][...], idx("train-labels-idx1-ubyte.gz", 8))
    assert np.array_equal(f["test/labels"][...], idx("t10k-labels-idx1-ubyte.gz", 8))
    assert list(np.bincount(f["train/labels"][...])) == [6000] * 10
    assert abs(f.attrs["mean"][0] - 0.2860) < 5e-4 and abs(f.attrs["std"][0] - 0.3530) < 5e-4
    assert b"crc32=" in f.attrs["provenance"] and f.attrs["name"] == b"fashion-mnist"
print("fashion-mnist ok:", s)
PY
expect_rc 0 "loader at 2 ranks" timeout 120 "$MPIEXEC" --oversubscribe -n 2 "$probe" -data_file fm.h5
expect_out '"n_train":60000,"n_test":10000,"shape":\[1,28,28\],"classes":10' "loader: counts and shape"
expect_out '"train_class_counts":\[6000,6000,6000,6000,6000,6000,6000,6000,6000,6000\]' "loader: 6000 per class in a 2-rank evaluation pass"
expect_out '"test_class_counts":\[1000,1000,1000,1000,1000,1000,1000,1000,1000,1000\]' "loader: 1000 per class in the test split"
expect_rc 0 "loader at 3 ranks with -data_train_subset 1000" timeout 120 "$MPIEXEC" --oversubscribe -n 3 "$probe" -data_file fm.h5 -data_train_subset 1000 -probe_eval_batch 128
expect_out '"n_train":1000,' "subset: 1000 training samples in use"
finish
