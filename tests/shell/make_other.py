#!/usr/bin/python3
"""Another file of the same shape, for the nodes-disagree tests (tests/shell/test_disagree.sh,
tests/cluster/test_full_disagree.sh).
  make_other.py dataset SRC DST : SRC's pixels inverted, its mean/std recomputed
  make_other.py model SRC DST   : SRC with /params[0] + 1 (its checksums no longer match)"""
import shutil
import sys

import h5py
import numpy as np

kind, src, dst = sys.argv[1:4]
shutil.copy(src, dst)
with h5py.File(dst, "r+") as f:
    if kind == "dataset":
        for s in ("train", "test"):
            f[s + "/images"][...] = 255 - f[s + "/images"][...]
        px = f["train/images"][...].astype(np.float64) / 255.0
        f.attrs["mean"] = px.mean(axis=(0, 2, 3))
        f.attrs["std"] = px.std(axis=(0, 2, 3))
    elif kind == "model":
        f["params"][0] = f["params"][0] + 1.0
    else:
        sys.exit("make_other.py: kind must be dataset or model")
