#!/usr/bin/python3
"""Write a tiny synthetic dataset in the layout of `pof convert` (README "Datasets").

usage: make_data.py OUT.h5 C H W CLASSES N_TRAIN N_TEST [NAME]

Images are uint8 noise with a class-dependent brightness offset (so a model can learn something),
labels cycle through the classes; mean/std are computed over the training pixels scaled to [0, 1].
"""
import sys

import h5py
import numpy as np


def main():
    if len(sys.argv) not in (8, 9):
        sys.exit(__doc__)
    out = sys.argv[1]
    c, h, w, classes, ntr, nte = (int(a) for a in sys.argv[2:8])
    name = sys.argv[8] if len(sys.argv) == 9 else "synthetic"
    rng = np.random.default_rng(1234)
    splits = {}
    for split, n in (("train", ntr), ("test", nte)):
        labels = (np.arange(n) % classes).astype(np.int32)
        rng.shuffle(labels)
        base = (labels.astype(np.float64) * (160.0 / max(classes - 1, 1)))[:, None, None, None]
        img = np.clip(base + rng.normal(48.0, 40.0, size=(n, c, h, w)), 0, 255).astype(np.uint8)
        splits[split] = (img, labels)
    px = splits["train"][0].astype(np.float64) / 255.0
    mean = px.mean(axis=(0, 2, 3))
    std = px.std(axis=(0, 2, 3))
    with h5py.File(out, "w") as f:
        for split, (img, labels) in splits.items():
            g = f.create_group(split)
            g.create_dataset("images", data=img, chunks=(min(len(img), 64), c, h, w))
            g.create_dataset("labels", data=labels)
        for k, v in (("classes", classes), ("channels", c), ("height", h), ("width", w), ("format_version", 1)):
            f.attrs.create(k, v, dtype=np.int32)
        f.attrs["mean"] = mean
        f.attrs["std"] = std
        for k, v in (("name", name), ("source_format", "synthetic"), ("provenance", "tests/slurm/make_data.py")):
            f.attrs.create(k, np.bytes_(v), dtype=h5py.string_dtype("ascii", len(v) + 1))
    print(f"wrote {out}: train {ntr}, test {nte}, {c}x{h}x{w}, {classes} classes")


if __name__ == "__main__":
    main()
