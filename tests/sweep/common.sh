# Shared setup of the sweep tests: a small Fashion-MNIST file (512 train / 256 test images) and a
# WRN-10-1 pretrained on it for one epoch at 2 ranks.
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/common.sh"
make_small() {
  convert_fmnist fm.h5 || { bad "convert"; return 1; }
  /usr/bin/python3 - <<'PY' || { bad "small dataset"; return 1; }
import h5py
src = h5py.File("fm.h5", "r"); dst = h5py.File("small.h5", "w")
for k in src.attrs: dst.attrs.create(k, src.attrs[k], dtype=src.attrs.get_id(k).dtype)
for sp, n in (("train", 512), ("test", 256)):
    g = dst.create_group(sp)
    for d in ("images", "labels"): g.create_dataset(d, data=src[sp][d][:n])
PY
  rm -f fm.h5
  COMMON="-data_file small.h5 -opt_batch 64 -data_augment 0 -run_quiet"
  mpi 2 pretrain $COMMON -model_depth 10 -model_width 1 -run_epochs 1 -opt_lr 0.05 -run_dir pre > pre.log 2>&1 || { bad "pretrain"; tail pre.log; return 1; }
}
# same_model A B: every dataset of two model files (groups included) bit-identical
same_model() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
def dsets(f):  # every dataset, also inside groups (e.g. /tensors)
    out = []
    f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(out)
assert dsets(a) == dsets(b), (dsets(a), dsets(b))
assert dsets(a), "no datasets"
for k in dsets(a):
    x, y = a[k][()], b[k][()]
    assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), k
PY
}
