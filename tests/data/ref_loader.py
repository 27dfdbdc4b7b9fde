#!/usr/bin/python3
"""Independent Python reimplementation of pof's sampler and augmentation (include/pof/data.h,
include/pof/augment.h, include/pof/rng.h), and a checker of the batches dumped by
tests/data/sampler_dump.c.

    ref_loader.py selftest
    ref_loader.py check DATASET.h5 DUMP.bin   [-subset N]

`check` recomputes from the HDF5 file every training batch, weak batch and evaluation pass in
the dump (indices, labels and every float of the augmented, normalized images, bit for bit) and
checks that each epoch visits distinct samples (exactly once each when B divides n_train).
"""
import json
import sys

import h5py
import numpy as np

MASK = 0xFFFFFFFF
ORDER, AUG, WEAK_INDEX, WEAK_AUG = 1, 2, 3, 4


def philox4x32_10(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0 = (k0 + 0x9E3779B9) & MASK
            k1 = (k1 + 0xBB67AE85) & MASK
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK, (p0 >> 32) ^ c3 ^ k1, p0 & MASK
    return [c0, c1, c2, c3]


class Rng:
    """Stream (seed, purpose, i0, i1, i2): counter (block, i2, i1, purpose << 24 | i0), key seed."""

    def __init__(self, seed, purpose, i0, i1, i2):
        self.key = (seed & MASK, (seed >> 32) & MASK)
        self.ctr = [0, i2 & MASK, i1 & MASK, (purpose << 24) | (i0 & 0xFFFFFF)]
        self.buf = []

    def u32(self):
        if not self.buf:
            self.buf = philox4x32_10(self.ctr, self.key)
            self.ctr[0] = (self.ctr[0] + 1) & MASK
        return self.buf.pop(0)

    def below(self, n):
        m = self.u32() * n
        if (m & MASK) < n:
            t = ((1 << 32) - n) % n
            while (m & MASK) < t:
                m = self.u32() * n
        return m >> 32


def epoch_perm(seed, epoch, n):
    perm = list(range(n))
    r = Rng(seed, ORDER, epoch, 0, 0)
    for i in range(n - 1, 0, -1):
        j = r.below(i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def weak_indices(seed, epoch, step, n, batch):
    r = Rng(seed, WEAK_INDEX, epoch, step, 0)
    return [r.below(n) for _ in range(batch)]


def draw(r, pad, flip, cutout, h, w):
    dy = dx = pad
    f = cy = cx = 0
    if pad > 0:
        dy = r.below(2 * pad + 1)
        dx = r.below(2 * pad + 1)
    if flip:
        f = r.below(2)
    if cutout > 0:
        cy = r.below(h)
        cx = r.below(w)
    return dy, dx, f, cy, cx


def lut(mean, std):
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.stack([((v - m) / s).astype(np.float32) for m, s in zip(mean, std)])


def augment(img, d, pad, cutout, table):
    """img (C, H, W) uint8 -> (C, H, W) float32, exactly as pof_augment_apply."""
    c, h, w = img.shape
    dy, dx, f, cy, cx = d
    padded = np.zeros((c, h + 2 * pad, w + 2 * pad), dtype=np.uint8)
    padded[:, pad:pad + h, pad:pad + w] = img
    crop = padded[:, dy:dy + h, dx:dx + w]
    if f:
        crop = crop[:, :, ::-1]
    out = np.stack([table[ch][crop[ch]] for ch in range(c)])
    if cutout > 0:
        y0, y1 = max(0, cy - cutout // 2), min(h, max(0, cy - cutout // 2 + cutout))
        x0, x1 = max(0, cx - cutout // 2), min(w, max(0, cx - cutout // 2 + cutout))
        out[:, y0:y1, x0:x1] = 0.0
    return out


def selftest():
    kat = [([0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
           ([MASK] * 4, [MASK] * 2, [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
           ([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0],
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1])]
    for ctr, key, want in kat:
        assert philox4x32_10(ctr, key) == want, "Philox known-answer vector"
    p = epoch_perm(5, 0, 100)
    assert sorted(p) == list(range(100)) and p != list(range(100))
    print("selftest ok")


class Dump:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.hdr = json.loads(f.readline())
            self.data = f.read()
        self.off = 0

    def take(self, dtype, n):
        a = np.frombuffer(self.data, dtype=dtype, count=n, offset=self.off)
        self.off += a.nbytes
        return a


def check(h5path, dumppath):
    d = Dump(dumppath)
    h = d.hdr
    fails = []
    with h5py.File(h5path, "r") as f:
        tr_img, tr_lab = f["train/images"][...], f["train/labels"][...].astype(np.int32)
        te_img, te_lab = f["test/images"][...], f["test/labels"][...].astype(np.int32)
        mean, std = f.attrs["mean"], f.attrs["std"]
    n = h["n_train"]
    tr_img, tr_lab = tr_img[:n], tr_lab[:n]
    c, hh, ww = tr_img.shape[1:]
    chw = c * hh * ww
    table = lut(mean, std)
    B, seed = h["batch"], h["seed"]
    aug = h["augment"]
    pad, flip, cut = (h["crop_pad"], h["flip"], h["cutout"]) if aug else (0, 0, 0)
    npix = 0

    def check_batch(kind, purpose, e, s, want_idx):
        nonlocal npix
        idx, y = d.take(np.int32, B), d.take(np.int32, B)
        x = d.take(np.float32, B * chw).reshape(B, c, hh, ww)
        if list(idx) != list(want_idx):
            fails.append(f"{kind} e{e} s{s}: indices differ")
            return None
        if not np.array_equal(y, tr_lab[idx]):
            fails.append(f"{kind} e{e} s{s}: labels differ")
        for slot in range(B):
            r = Rng(seed, purpose, e, s, slot)
            want = augment(tr_img[idx[slot]], draw(r, pad, flip, cut, hh, ww), pad, cut, table)
            if not np.array_equal(want.view(np.uint32), x[slot].view(np.uint32)):
                bad = np.argwhere(want != x[slot])[0]
                fails.append(f"{kind} e{e} s{s} slot {slot} (sample {idx[slot]}): pixel {tuple(bad)} "
                             f"is {x[slot][tuple(bad)]}, reference {want[tuple(bad)]}")
                return None
            npix += want.size
        return idx

    steps = n // B
    perms = []
    for e in range(h["epochs"]):
        perm = epoch_perm(seed, e, n)
        perms.append(perm)
        seen = []
        for s in range(steps):
            idx = check_batch("train", AUG, e, s, perm[s * B:(s + 1) * B])
            if idx is not None:
                seen.extend(int(i) for i in idx)
        if len(set(seen)) != len(seen):
            fails.append(f"epoch {e}: a sample appears twice")
        if n % B == 0 and sorted(seen) != list(range(n)):
            fails.append(f"epoch {e}: not every sample exactly once")
    if len(perms) > 1 and perms[0] == perms[1]:
        fails.append("epochs 0 and 1 have the same order")
    for e in range(h["epochs"]):
        for s in range(h["weak_steps"]):
            check_batch("weak", WEAK_AUG, e, s, weak_indices(seed, e, s, n, B))
    for name, img, lab in (("train", tr_img, tr_lab), ("test", te_img, te_lab)):
        m = len(lab)
        y = d.take(np.int32, m)
        x = d.take(np.float32, m * chw).reshape(m, c, hh, ww)
        want = np.stack([table[ch][img[:, ch]] for ch in range(c)], axis=1)
        if not np.array_equal(y, lab):
            fails.append(f"eval {name}: labels differ")
        if not np.array_equal(want.view(np.uint32), x.view(np.uint32)):
            fails.append(f"eval {name}: pixels differ")
    if d.off != len(d.data):
        fails.append(f"dump has {len(d.data) - d.off} unread bytes")
    for msg in fails[:20]:
        print("FAIL", msg)
    print(f"checked {h['epochs']} epochs x {steps} batches + weak batches + evaluation of "
          f"{n}+{len(te_lab)} samples: {npix} augmented pixels; first order {perms[0][:8]}")
    return 1 if fails else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["selftest"]:
        selftest()
        sys.exit(0)
    if sys.argv[1:2] == ["check"] and len(sys.argv) == 4:
        sys.exit(check(sys.argv[2], sys.argv[3]))
    if sys.argv[1:2] == ["perm"] and len(sys.argv) == 5:
        print(epoch_perm(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))[:10])
        sys.exit(0)
    sys.exit(__doc__)
