#!/usr/bin/python3
"""Copy the first NTRAIN training and NTEST test samples of a pof dataset file (same layout and
attributes, see README "Datasets") into a small file, so resume tests train and evaluate in
seconds.  usage: make_tiny.py IN OUT NTRAIN NTEST"""
import sys
import h5py

src, dst, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
    for k, v in f.attrs.items():  # same types: fixed-length strings keep their NUL terminator
        g.attrs.create(k, v, dtype=f.attrs.get_id(k).dtype)
    for split, n in (("train", ntrain), ("test", ntest)):
        for name in ("images", "labels"):
            d = f[split][name]
            g.create_dataset(f"{split}/{name}", data=d[:n], chunks=True if d.chunks else None)
