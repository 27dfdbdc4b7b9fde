#!/usr/bin/python3
"""Small raw datasets for pof convert's tests, with the expected arrays.

    gen_fixtures.py good DIR          IDX (plain, gzip), CIFAR-10, CIFAR-100, SVHN .mat
                                      (scipy.io.savemat: uncompressed and miCOMPRESSED; and a
                                      big-endian file written by hand) + DIR/<case>.npz
    gen_fixtures.py bad DIR           one sub-directory per bad input for the converter
    gen_fixtures.py badh5 DIR GOOD.h5 broken dataset files for the loader, made from GOOD.h5

Every .npz holds train_x, test_x (N, C, H, W uint8), train_y, test_y, classes and the
source files of the case. Shapes are small and not square, so transposes show.
"""
import gzip
import os
import shutil
import struct
import sys

import numpy as np
import scipy.io

rng = np.random.default_rng(20240611)


def idx_bytes(arr, magic_type=0x08):
    head = struct.pack(">BBBB", 0, 0, magic_type, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def labels(n, classes):
    y = rng.integers(0, classes, n).astype(np.uint8)
    y[rng.integers(0, n)] = classes - 1  # the largest label is present
    return y


IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def make_idx(d, gz, ntr=50, nte=20, h=7, w=9):
    trx = rng.integers(0, 256, (ntr, h, w), dtype=np.uint8)
    tex = rng.integers(0, 256, (nte, h, w), dtype=np.uint8)
    trx[0, 0, 0], trx[1, 1, 1] = 0, 255
    try_, tey = labels(ntr, 10), rng.integers(0, 10, nte).astype(np.uint8)
    files = []
    for name, arr in zip(IDX_NAMES, (trx, try_, tex, tey)):
        data = idx_bytes(arr)
        path = os.path.join(d, name + (".gz" if gz else ""))
        write(path, gzip.compress(data) if gz else data)
        files.append(path)
    np.savez(d + ".npz", train_x=trx[:, None], train_y=try_, test_x=tex[:, None], test_y=tey, classes=10,
             files=np.array(files))
    return trx, try_, tex, tey


def make_cifar(d, hundred, per_batch=7, nte=5, ntr100=30):
    rec = 2 if hundred else 1

    def batch(n):
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        coarse = rng.integers(0, 20, n).astype(np.uint8)
        fine = rng.integers(0, 100 if hundred else 10, n).astype(np.uint8)
        head = np.stack([coarse, fine], 1) if hundred else fine[:, None]
        return x, coarse, fine, np.concatenate([head, x.reshape(n, -1)], 1).tobytes()

    files, xs, cs, fs = [], [], [], []
    names = ["train.bin"] if hundred else [f"data_batch_{i}.bin" for i in range(1, 6)]
    for name in names:
        x, c, f, raw = batch(ntr100 if hundred else per_batch)
        write(os.path.join(d, name), raw)
        files.append(os.path.join(d, name))
        xs.append(x), cs.append(c), fs.append(f)
    tx, tc, tf, raw = batch(nte if not hundred else 9)
    write(os.path.join(d, "test.bin" if hundred else "test_batch.bin"), raw)
    files.append(os.path.join(d, "test.bin" if hundred else "test_batch.bin"))
    trx, trc, trf = np.concatenate(xs), np.concatenate(cs), np.concatenate(fs)
    np.savez(d + ".npz", train_x=trx, train_y=trf, test_x=tx, test_y=tf, classes=100 if hundred else 10,
             files=np.array(files))
    if hundred:
        np.savez(d + "-coarse.npz", train_x=trx, train_y=trc, test_x=tx, test_y=tc, classes=20, files=np.array(files))
    return rec


def svhn_mat(path, x_nchw, digits, compress, ydtype):
    """SVHN layout: X is H x W x C x N uint8, y is N x 1 with 10 for digit 0."""
    y = np.where(digits == 0, 10, digits).reshape(-1, 1).astype(ydtype)
    scipy.io.savemat(path, {"X": np.ascontiguousarray(x_nchw.transpose(2, 3, 1, 0)), "y": y},
                     do_compression=compress, format="5")


def mat_v5_bytes(arrays, big):
    """A MATLAB v5 file written by hand (not by scipy): uncompressed, regular (not small) name
    elements, in the given byte order. arrays: name -> uint8 or float64 array."""
    e = ">" if big else "<"

    def elem(mtype, data):
        return struct.pack(e + "II", mtype, len(data)) + data + bytes(-len(data) % 8)

    out = b"MATLAB 5.0 MAT-file, written by pof's gen_fixtures.py".ljust(116, b" ") + bytes(8)
    out += struct.pack(e + "H", 0x0100) + (b"MI" if big else b"IM")
    for name, a in arrays.items():
        cls, mtype, dt = (9, 2, "u1") if a.dtype == np.uint8 else (6, 9, e + "f8")
        body = elem(6, struct.pack(e + "II", cls, 0)) + elem(5, struct.pack(e + f"{a.ndim}i", *a.shape))
        body += elem(1, name.encode()) + elem(mtype, a.ravel(order="F").astype(dt).tobytes())
        out += elem(14, body)
    return out


def make_svhn_be(d, h=5, w=7):
    parts = {}
    for name, n in (("train", 13), ("test", 6)):
        x = rng.integers(0, 256, (n, 3, h, w), dtype=np.uint8)
        dig = rng.integers(0, 10, n).astype(np.uint8)
        dig[1] = 0
        y = np.where(dig == 0, 10, dig).reshape(-1, 1).astype(np.float64)
        write(os.path.join(d, f"{name}_32x32.mat"), mat_v5_bytes({"y": y, "X": x.transpose(2, 3, 1, 0)}, big=True))
        parts[name] = (x, dig)
    np.savez(d + ".npz", train_x=parts["train"][0], train_y=parts["train"][1], test_x=parts["test"][0],
             test_y=parts["test"][1], classes=10,
             files=np.array([os.path.join(d, "train_32x32.mat"), os.path.join(d, "test_32x32.mat")]))


def make_svhn(d, compress, extra, ydtype, h=8, w=6):
    os.makedirs(d, exist_ok=True)
    parts = {}
    for name, n in (("train", 23), ("test", 11), ("extra", 17)):
        x = rng.integers(0, 256, (n, 3, h, w), dtype=np.uint8)
        dig = rng.integers(0, 10, n).astype(np.uint8)
        dig[0] = 0
        svhn_mat(os.path.join(d, f"{name}_32x32.mat"), x, dig, compress, ydtype)
        parts[name] = (x, dig)
    trx, trd = parts["train"]
    files = [os.path.join(d, "train_32x32.mat")]
    if extra:
        trx = np.concatenate([trx, parts["extra"][0]])
        trd = np.concatenate([trd, parts["extra"][1]])
        files.append(os.path.join(d, "extra_32x32.mat"))
    files.append(os.path.join(d, "test_32x32.mat"))
    np.savez(d + ".npz", train_x=trx, train_y=trd, test_x=parts["test"][0], test_y=parts["test"][1], classes=10,
             files=np.array(files))


def good(root):
    make_idx(os.path.join(root, "idx"), False)
    make_idx(os.path.join(root, "idx-gz"), True)
    make_cifar(os.path.join(root, "cifar10"), False)
    make_cifar(os.path.join(root, "cifar100"), True)
    make_svhn(os.path.join(root, "svhn"), False, False, np.float64)
    make_svhn(os.path.join(root, "svhn-z"), True, True, np.uint8)
    make_svhn_be(os.path.join(root, "svhn-be"))
    # the sampler's dataset: 3 x 32 x 32, 5 x 40 training and 37 test images
    make_cifar(os.path.join(root, "sampler"), False, per_batch=40, nte=37)


def bad(root):
    """One directory per case; the shell test knows each case's options and expected message."""
    def idx_case(name, **mut):
        d = os.path.join(root, name)
        trx, try_, tex, tey = make_idx(d, False)
        return d

    d = idx_case("idx-magic")
    raw = bytearray(open(os.path.join(d, IDX_NAMES[0]), "rb").read())
    raw[0:2] = b"\x1f\x9d"
    write(os.path.join(d, IDX_NAMES[0]), bytes(raw))

    d = idx_case("idx-trunc")
    raw = open(os.path.join(d, IDX_NAMES[0]), "rb").read()
    write(os.path.join(d, IDX_NAMES[0]), raw[:len(raw) - 100])

    d = os.path.join(root, "idx-trunc-gz")
    make_idx(d, True)
    raw = open(os.path.join(d, IDX_NAMES[2] + ".gz"), "rb").read()
    write(os.path.join(d, IDX_NAMES[2] + ".gz"), raw[:len(raw) // 2])

    # a complete deflate stream without its 8-byte gzip trailer (CRC-32 and size), and one whose
    # CRC-32 is wrong: every byte of data is there, so only the trailer check can catch them
    d = os.path.join(root, "idx-notrailer-gz")
    make_idx(d, True)
    raw = open(os.path.join(d, IDX_NAMES[0] + ".gz"), "rb").read()
    write(os.path.join(d, IDX_NAMES[0] + ".gz"), raw[:-8])
    # (9000 8x8 images, read in several pieces)
    d = os.path.join(root, "idx-crc-gz")
    make_idx(d, True, ntr=9000, h=8, w=8)
    raw = bytearray(open(os.path.join(d, IDX_NAMES[0] + ".gz"), "rb").read())
    raw[-8] ^= 0xFF
    write(os.path.join(d, IDX_NAMES[0] + ".gz"), bytes(raw))

    d = idx_case("idx-count")
    y = rng.integers(0, 10, 49).astype(np.uint8)
    write(os.path.join(d, IDX_NAMES[1]), idx_bytes(y))

    d = idx_case("idx-label")
    y = rng.integers(0, 10, 20).astype(np.uint8)
    y[13] = 12
    write(os.path.join(d, IDX_NAMES[3]), idx_bytes(y))

    d = idx_case("idx-zero")
    write(os.path.join(d, IDX_NAMES[0]), idx_bytes(np.zeros((50, 0, 9), np.uint8)))

    d = idx_case("idx-type")
    raw = bytearray(open(os.path.join(d, IDX_NAMES[0]), "rb").read())
    raw[2] = 0x0D  # float
    write(os.path.join(d, IDX_NAMES[0]), bytes(raw))

    d = idx_case("idx-dims")
    write(os.path.join(d, IDX_NAMES[0]), idx_bytes(np.zeros((50, 63), np.uint8)))

    d = idx_case("idx-shape")
    write(os.path.join(d, IDX_NAMES[2]), idx_bytes(np.zeros((20, 7, 8), np.uint8)))

    d = idx_case("idx-extra")
    raw = open(os.path.join(d, IDX_NAMES[0]), "rb").read()
    write(os.path.join(d, IDX_NAMES[0]), raw + bytes(63))

    d = os.path.join(root, "cifar10-trunc")
    make_cifar(d, False)
    raw = open(os.path.join(d, "data_batch_3.bin"), "rb").read()
    write(os.path.join(d, "data_batch_3.bin"), raw[:-100])

    d = os.path.join(root, "cifar10-label")
    make_cifar(d, False)
    raw = bytearray(open(os.path.join(d, "data_batch_2.bin"), "rb").read())
    raw[3073 * 4] = 10
    write(os.path.join(d, "data_batch_2.bin"), bytes(raw))

    d = os.path.join(root, "cifar10-missing")
    make_cifar(d, False)
    os.remove(os.path.join(d, "test_batch.bin"))

    d = os.path.join(root, "cifar100-label")
    make_cifar(d, True)
    raw = bytearray(open(os.path.join(d, "test.bin"), "rb").read())
    raw[3074 * 2 + 1] = 100
    write(os.path.join(d, "test.bin"), bytes(raw))

    x = rng.integers(0, 256, (9, 3, 8, 6), dtype=np.uint8)
    dig = rng.integers(0, 10, 9).astype(np.uint8)

    def svhn_case(name, compress=False):
        d = os.path.join(root, name)
        make_svhn(d, compress, False, np.float64)
        return d

    d = svhn_case("svhn-label")
    y = np.where(dig == 0, 10, dig).reshape(-1, 1).astype(np.float64)
    y[4] = 11
    scipy.io.savemat(os.path.join(d, "train_32x32.mat"), {"X": x.transpose(2, 3, 1, 0), "y": y})

    d = svhn_case("svhn-count")
    scipy.io.savemat(os.path.join(d, "test_32x32.mat"),
                     {"X": x.transpose(2, 3, 1, 0), "y": np.ones((8, 1))})

    d = svhn_case("svhn-magic")
    write(os.path.join(d, "train_32x32.mat"), b"this is not a MATLAB file at all " * 8)

    d = svhn_case("svhn-v73")
    import h5py
    p = os.path.join(d, "train_32x32.mat")
    with h5py.File(p, "w", userblock_size=512) as f:
        f["X"] = x
    with open(p, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Tue Jan  1 00:00:00 2019 HDF5 schema 1.00 .")

    d = svhn_case("svhn-trunc-z", compress=True)
    raw = open(os.path.join(d, "train_32x32.mat"), "rb").read()
    write(os.path.join(d, "train_32x32.mat"), raw[:len(raw) - 200])

    d = svhn_case("svhn-corrupt-z", compress=True)
    raw = bytearray(open(os.path.join(d, "test_32x32.mat"), "rb").read())
    raw[128 + 8 + 40:128 + 8 + 80] = bytes(range(40))
    write(os.path.join(d, "test_32x32.mat"), bytes(raw))

    d = svhn_case("svhn-crc-z", compress=True)
    raw = bytearray(open(os.path.join(d, "test_32x32.mat"), "rb").read())
    raw[-3] ^= 0xFF  # inside the zlib Adler-32 of the last element
    write(os.path.join(d, "test_32x32.mat"), bytes(raw))

    d = svhn_case("svhn-trunc")
    raw = open(os.path.join(d, "train_32x32.mat"), "rb").read()
    write(os.path.join(d, "train_32x32.mat"), raw[:len(raw) // 2])

    d = svhn_case("svhn-nox")
    scipy.io.savemat(os.path.join(d, "test_32x32.mat"), {"images": x.transpose(2, 3, 1, 0), "y": np.ones((9, 1))})

    d = svhn_case("svhn-dims")
    scipy.io.savemat(os.path.join(d, "test_32x32.mat"),
                     {"X": np.zeros((8, 6, 9), np.uint8), "y": np.ones((9, 1))})

    d = svhn_case("svhn-zero")
    scipy.io.savemat(os.path.join(d, "train_32x32.mat"),
                     {"X": np.zeros((8, 0, 3, 9), np.uint8), "y": np.ones((9, 1))})


def badh5(root, good_h5):
    import h5py
    os.makedirs(root, exist_ok=True)
    write(os.path.join(root, "not-hdf5.h5"), b"just some text, not HDF5\n" * 40)

    def variant(name, fn):
        p = os.path.join(root, name + ".h5")
        shutil.copy(good_h5, p)
        with h5py.File(p, "r+") as f:
            fn(f)

    variant("no-test-group", lambda f: f.__delitem__("test"))
    variant("no-train-labels", lambda f: f["train"].__delitem__("labels"))

    def wrong_dims(f):
        x = f["train/images"][...]
        del f["train/images"]
        f["train/images"] = x.reshape(x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
    variant("wrong-dims", wrong_dims)
    variant("no-mean", lambda f: f.attrs.__delitem__("mean"))

    def bad_label(f):
        y = f["test/labels"][...]
        y[5] = f.attrs["classes"]
        f["test/labels"][...] = y
    variant("bad-label", bad_label)

    def count(f):
        y = f["train/labels"][...]
        del f["train/labels"]
        f["train/labels"] = y[:-1]
    variant("count-mismatch", count)
    variant("wrong-channels", lambda f: f.attrs.__setitem__("channels", np.int32(3)))
    variant("zero-std", lambda f: f.attrs.__setitem__("std", np.zeros_like(f.attrs["std"])))
    # string attributes of the wrong shape or class (an array of 16 strings made pof eval crash)
    variant("name-array", lambda f: f.attrs.__setitem__("name", np.array([b"A" * 64] * 16)))
    variant("name-vlen-array", lambda f: f.attrs.__setitem__("name", ["x" * 40] * 3))
    variant("name-number", lambda f: f.attrs.__setitem__("name", np.float64(3.5)))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "good":
        good(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "bad":
        bad(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "badh5":
        badh5(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
