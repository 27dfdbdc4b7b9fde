#!/usr/bin/python3
"""Compare parameter updates written by rank_equiv: compare_updates.py REF OTHER TOL [--expect-differ]
Passes when max |u_other - u_ref| <= TOL * max |u_ref| (and, for PoF runs, eta*/gamma/eta_max agree
to 1e-9 relative); with --expect-differ it passes only when the comparison FAILS (negative control)."""
import struct, sys
import numpy as np

def load(p):
    b = open(p, 'rb').read()
    np_, nf, steps = struct.unpack('3i', b[:12])
    u = np.frombuffer(b[12:12 + 4 * np_], dtype=np.float32).astype(np.float64)
    rec = np.frombuffer(b[12 + 4 * np_:], dtype=np.float64).reshape(-1, 3) if steps else None
    return u, nf, rec

ref, nf, rref = load(sys.argv[1])
oth, _, roth = load(sys.argv[2])
tol = float(sys.argv[3])
differ = '--expect-differ' in sys.argv
scale = np.abs(ref).max()
rel = np.abs(oth - ref).max() / scale
ok = rel <= tol and scale > 0
msg = f"max|update| {scale:.4g}, max|diff|/max|update| {rel:.3g} (tol {tol:g})"
if rref is not None:
    rrel = np.abs(roth - rref).max() / max(np.abs(rref).max(), 1e-300)
    ok = ok and rrel <= 1e-9
    msg += f"; eta*/gamma/eta_max rel diff {rrel:.3g}: " + " ".join(f"({a:.4g},{b:.4g})" for a, b, _ in rref)
    # theta0 must not move in PoF
    if np.abs(ref[nf:]).max() != 0 or np.abs(oth[nf:]).max() != 0:
        print("FAIL: the classifier moved in a PoF run"); sys.exit(1)
print(("negative control " if differ else "") + msg)
if differ:
    sys.exit(0 if not ok else 1)
sys.exit(0 if ok else 1)
