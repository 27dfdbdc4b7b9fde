#!/usr/bin/python3
"""Check a file written by pof convert against the expected arrays of gen_fixtures.py.

    check_h5.py EXPECTED.npz OUT.h5 NAME

Every pixel and label, the shape/classes attributes, mean and std (recomputed in float64 over
the training pixels scaled to [0,1]), the name, and the provenance (each source file with its
size and CRC-32). Prints one line per failed check and exits non-zero if any failed.
"""
import os
import sys
import zlib

import h5py
import numpy as np


def main(npz, h5, name):
    e = np.load(npz)
    fails = []

    def want(cond, msg):
        if not cond:
            fails.append(msg)

    with h5py.File(h5, "r") as f:
        for split in ("train", "test"):
            x, y = f[f"{split}/images"], f[f"{split}/labels"]
            want(x.dtype == np.uint8, f"{split}/images dtype {x.dtype}")
            want(x.chunks is not None, f"{split}/images is not chunked")
            want(x.shape == e[f"{split}_x"].shape, f"{split}/images shape {x.shape} != {e[split + '_x'].shape}")
            if x.shape == e[f"{split}_x"].shape:
                want(np.array_equal(x[...], e[f"{split}_x"]), f"{split}/images: pixels differ")
            want(np.array_equal(y[...], e[f"{split}_y"]), f"{split}/labels differ")
        a = f.attrs
        c, h, w = e["train_x"].shape[1:]
        for key, val in (("classes", int(e["classes"])), ("channels", c), ("height", h), ("width", w)):
            want(int(a[key]) == val, f"attribute {key} = {a[key]}, want {val}")
        px = e["train_x"].astype(np.float64) / 255.0
        mean = px.mean(axis=(0, 2, 3))
        std = px.std(axis=(0, 2, 3))
        want(np.allclose(a["mean"], mean, rtol=0, atol=1e-12), f"mean {a['mean']} != {mean}")
        want(np.allclose(a["std"], std, rtol=0, atol=1e-12), f"std {a['std']} != {std}")
        got_name = a["name"].decode() if isinstance(a["name"], bytes) else str(a["name"])
        want(got_name == name, f"name '{got_name}' != '{name}'")
        prov = a["provenance"].decode() if isinstance(a["provenance"], bytes) else str(a["provenance"])
        entries = prov.split("; ")
        want(len(entries) == len(e["files"]), f"provenance has {len(entries)} entries, want {len(e['files'])}")
        for path in e["files"]:
            data = open(str(path), "rb").read()
            entry = f"{path} bytes={len(data)} crc32={zlib.crc32(data):08x}"
            want(entry in entries, f"provenance lacks '{entry}'")
    for m in fails:
        print("FAIL", m)
    print(f"{os.path.basename(h5)}: {'ok' if not fails else str(len(fails)) + ' failures'} "
          f"({e['train_x'].shape[0]} train, {e['test_x'].shape[0]} test, {e['train_x'].shape[1:]})")
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
