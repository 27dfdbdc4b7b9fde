#!/usr/bin/python3
"""Compare the state of two pof model/checkpoint files: /params, /momentum, /bn_running and
/theta0 (where present in both), and the progress attributes (epochs_done, global_step).
usage: compare_models.py A B [RTOL]
Without RTOL the arrays must be bitwise identical; with RTOL every element must satisfy
|a - b| <= RTOL * max(|a|, |b|, 1e-3) (a float-tolerance trajectory check).
Prints the largest absolute and relative differences; exit status 0 = equal (within RTOL)."""
import sys
import h5py
import numpy as np

a_path, b_path = sys.argv[1], sys.argv[2]
rtol = float(sys.argv[3]) if len(sys.argv) > 3 else None
ok = True
with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
    for k in ("epochs_done", "global_step", "step_in_epoch"):
        if int(a.attrs[k]) != int(b.attrs[k]):
            print(f"{k}: {int(a.attrs[k])} != {int(b.attrs[k])}")
            ok = False
    for name in ("params", "momentum", "bn_running", "theta0"):
        if name not in a or name not in b:
            if (name in a) != (name in b):
                print(f"/{name} only in one file")
                ok = False
            continue
        x, y = a[name][()], b[name][()]
        if x.shape != y.shape:
            print(f"/{name}: shapes {x.shape} != {y.shape}")
            ok = False
            continue
        d = np.abs(x.astype(np.float64) - y.astype(np.float64))
        scale = np.maximum(np.maximum(np.abs(x), np.abs(y)).astype(np.float64), 1e-3)
        nbits = int(np.count_nonzero(x.view(np.uint8) != y.view(np.uint8)))
        print(f"/{name}: {x.size} values, max |diff| {d.max():.3g}, max rel {(d / scale).max():.3g}, bytes differing {nbits}")
        if rtol is None:
            ok &= nbits == 0
        else:
            ok &= bool((d <= rtol * scale).all())
print("equal" if ok else "DIFFERENT", "(bitwise)" if rtol is None else f"(rtol {rtol})")
sys.exit(0 if ok else 1)
