#!/usr/bin/python3
"""Adversarial inputs for every reader pof has (issue 29): raw IDX (plain and gzip), CIFAR binary,
SVHN MATLAB v5, and pof's own HDF5 dataset and model/checkpoint files. Usage:
gen_inputs.py DIR. Writes one small good input per format (the base of the edits, and the files a
bad one is paired with) and one bad input per case under DIR; tests/untrusted/run_cases.sh lists
the cases with the error each must give. Deterministic (fixed seed); takes well under a second."""
import gzip
import os
import struct
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "analysis"))
import pofmodel  # noqa: E402  (pof's model-file writer, with its CRC-32s)

rng = np.random.default_rng(29)
root = sys.argv[1]


def write(rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ------------------------------------------------------------------ IDX
IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx(arr, typ=0x08, dims=None, ndim=None):
    dims = arr.shape if dims is None else dims
    head = struct.pack(">BBBB", 0, 0, typ, len(dims) if ndim is None else ndim)
    return head + b"".join(struct.pack(">I", d) for d in dims) + arr.astype(np.uint8).tobytes()


def idx_set(d, gz=False, **over):
    """The four files of a good 1 x 4 x 5 IDX set (6 train, 4 test images); over: name -> bytes."""
    trx, tex = rng.integers(0, 256, (6, 4, 5)), rng.integers(0, 256, (4, 4, 5))
    ytr, yte = np.array([0, 1, 2, 0, 1, 2]), np.array([2, 1, 0, 1])
    for name, arr in zip(IDX, (trx, ytr, tex, yte)):
        data = over.get(name, idx(arr))
        if gz and not over.get(name + ".raw"):  # .raw: the bytes given are the .gz file itself
            data = gzip.compress(data, mtime=0)
        write(os.path.join(d, name + (".gz" if gz else "")), data)


idx_set("idx-good")
idx_set("idx-gz-good", gz=True)
img = rng.integers(0, 256, (6, 4, 5))
idx_set("idx-magic", **{IDX[0]: b"\x1f\x9d" + idx(img)[2:]})
idx_set("idx-type", **{IDX[0]: idx(img, typ=0x0D)})
idx_set("idx-ndim", **{IDX[0]: idx(img.reshape(6, 20))})
idx_set("idx-zero", **{IDX[0]: idx(img, dims=(6, 0, 5))})
idx_set("idx-huge", **{IDX[0]: idx(img, dims=(6, 70000, 5))})
idx_set("idx-trunc", **{IDX[0]: idx(img)[:-7]})
idx_set("idx-extra", **{IDX[0]: idx(img) + b"\0" * 20})
idx_set("idx-count", **{IDX[1]: idx(np.array([0, 1, 2, 0, 1]))})
idx_set("idx-testlabel", **{IDX[3]: idx(np.array([2, 1, 7, 1]))})
idx_set("idx-shape", **{IDX[2]: idx(rng.integers(0, 256, (4, 4, 6)))})
idx_set("idx-labelhdr", **{IDX[1]: idx(np.array([0, 1, 2, 0, 1, 2]), dims=(6, 2), ndim=1)})
# gzip: truncated stream, no trailer, wrong CRC, declared sizes no compressed file can hold, the
# hard cap, a one-image set whose image is larger than pof buffers, garbage after the gzip magic
good_gz = gzip.compress(idx(img), mtime=0)
idx_set("gz-trunc", gz=True, **{IDX[2]: gzip.compress(idx(img[:4]), mtime=0)[:40], IDX[2] + ".raw": 1})
idx_set("gz-notrailer", gz=True, **{IDX[0]: good_gz[:-8], IDX[0] + ".raw": 1})
bad_crc = bytearray(good_gz)
bad_crc[-8] ^= 0xFF
idx_set("gz-crc", gz=True, **{IDX[0]: bytes(bad_crc), IDX[0] + ".raw": 1})
idx_set("gz-bomb", gz=True, **{IDX[0]: idx(np.zeros(0), dims=(60000, 28, 28))})
idx_set("gz-cap", gz=True, **{IDX[0]: idx(np.zeros(0), dims=(1000000000, 300, 300))})
# (its pixels are random filler: the image is refused before they are read, as the header alone
# shows it is too large, and random bytes make the file big enough for the ratio check)
big = idx(np.zeros(0), dims=(1, 65536, 1025)) + bytes(rng.integers(0, 256, 70000, dtype=np.uint8))
idx_set("gz-bigimage", gz=True, **{IDX[0]: big, IDX[1]: idx(np.array([0]))})
idx_set("gz-garbage", gz=True, **{IDX[0]: b"\x1f\x8b\x08\x00" + bytes(rng.integers(0, 256, 200, dtype=np.uint8)),
                                   IDX[0] + ".raw": 1})

# ------------------------------------------------------------------ CIFAR


def cifar_records(n, hundred, coarse=None, fine=None):
    x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    c = rng.integers(0, 20, n).astype(np.uint8) if coarse is None else np.array(coarse, np.uint8)
    f = rng.integers(0, 100 if hundred else 10, n).astype(np.uint8) if fine is None else np.array(fine, np.uint8)
    head = np.stack([c, f], 1) if hundred else f[:, None]
    return np.concatenate([head, x], 1).tobytes()


def cifar10(d, **over):
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        if over.get(name, b"") is not None:
            write(os.path.join(d, name), over.get(name, cifar_records(3, False)))


def cifar100(d, **over):
    for name in ("train.bin", "test.bin"):
        write(os.path.join(d, name), over.get(name, cifar_records(4, True)))


cifar10("cifar10-good")
cifar100("cifar100-good")
cifar10("cifar10-size", **{"data_batch_2.bin": cifar_records(3, False)[:-100]})
cifar10("cifar10-empty", **{"test_batch.bin": b""})
cifar10("cifar10-label", **{"data_batch_4.bin": cifar_records(3, False, fine=[1, 10, 2])})
cifar10("cifar10-missing", **{"test_batch.bin": None})
cifar100("cifar100-coarse", **{"train.bin": cifar_records(4, True, coarse=[1, 2, 25, 3])})
cifar100("cifar100-fine", **{"test.bin": cifar_records(4, True, fine=[1, 100, 2, 3])})

# ------------------------------------------------------------------ SVHN (MATLAB v5, by hand)


def el(mtype, data):
    return struct.pack("<II", mtype, len(data)) + data + bytes(-len(data) % 8)


def matrix(name, a, cls=None, mtype=None, dims=None, nbytes=None, raw=None):
    """One miMATRIX element; cls/mtype/dims/nbytes/raw override what a holds (for bad cases)."""
    if cls is None:
        cls, mtype = (9, 2) if a.dtype == np.uint8 else (6, 9)
    data = a.ravel(order="F").tobytes() if raw is None else raw
    dims = a.shape if dims is None else dims
    body = el(6, struct.pack("<II", cls, 0)) + el(5, struct.pack(f"<{len(dims)}i", *dims)) + el(1, name.encode())
    real = struct.pack("<II", mtype, len(data) if nbytes is None else nbytes) + data + bytes(-len(data) % 8)
    return el(14, body + real)


def mat_header(text=b"MATLAB 5.0 MAT-file, written by pof tests/untrusted", bom=b"IM"):
    return text.ljust(116, b" ") + bytes(8) + struct.pack("<H", 0x0100) + bom


def compressed(payload, nbytes=None):
    z = zlib.compress(payload)
    return struct.pack("<II", 15, len(z) if nbytes is None else nbytes) + z


def svhn_parts(n):
    x = rng.integers(0, 256, (4, 3, 3, n), dtype=np.uint8)  # H x W x C x N
    y = rng.integers(1, 11, (n, 1)).astype(np.float64)
    return x, y


def svhn(d, **over):
    for name, n in (("train", 5), ("test", 3)):
        x, y = svhn_parts(n)
        data = over.get(name, mat_header() + matrix("X", x) + matrix("y", y))
        write(os.path.join(d, f"{name}_32x32.mat"), data)


svhn("svhn-good")
x5, y5 = svhn_parts(5)
svhn("svhn-magic", train=b"MATLAB 4.0 MAT-file".ljust(200, b" "))
svhn("svhn-v73", train=mat_header(b"MATLAB 7.3 MAT-file, Platform: GLNXA64") + bytes(64))
svhn("svhn-short", test=b"MATLAB 5.0 MAT-file")
svhn("svhn-bom", train=mat_header(bom=b"XX") + matrix("X", x5) + matrix("y", y5))
svhn("svhn-label", train=mat_header() + matrix("X", x5) + matrix("y", np.array([[1.0], [2], [11], [3], [4]])))
svhn("svhn-dims", train=mat_header() + matrix("X", x5[:, :, 0, :]) + matrix("y", y5))
svhn("svhn-bigdim", train=mat_header() + matrix("X", x5, dims=(70000, 3, 3, 5)) + matrix("y", y5))
svhn("svhn-xbytes", train=mat_header() + matrix("X", x5, dims=(4, 3, 3, 6)) + matrix("y", y5))
svhn("svhn-count", test=mat_header() + matrix("X", x5) + matrix("y", y5[:4]))
svhn("svhn-nox", test=mat_header() + matrix("y", y5))
svhn("svhn-ytype", train=mat_header() + matrix("X", x5) + matrix("y", y5, cls=6, mtype=16))
svhn("svhn-trunc", train=(mat_header() + matrix("X", x5) + matrix("y", y5))[:-30])
# compressed elements: an inner tag declaring 4 GB from a few dozen compressed bytes, and a stream
# that inflates to more than the matrix it declares (the rest of the element is drained)
svhn("svhn-z-bomb", train=mat_header() + compressed(struct.pack("<II", 14, 0xFFFFFFF0) + bytes(64)))
svhn("svhn-z-more", train=mat_header() + compressed(matrix("X", x5) + bytes(1 << 16)) + matrix("y", y5))

# ------------------------------------------------------------------ pof's HDF5 dataset
import h5py  # noqa: E402


def dataset(rel, edit=None):
    path = os.path.join(root, rel)
    with h5py.File(path, "w") as f:
        for sp, n in (("train", 8), ("test", 4)):
            f.create_dataset(f"{sp}/images", data=rng.integers(0, 256, (n, 1, 8, 8), dtype=np.uint8))
            f.create_dataset(f"{sp}/labels", data=(np.arange(n) % 3).astype("<i4"))
        for k, v in (("classes", 3), ("channels", 1), ("height", 8), ("width", 8), ("format_version", 1)):
            f.attrs.create(k, v, dtype="<i4")
        f.attrs.create("mean", [0.5], dtype="<f8")
        f.attrs.create("std", [0.25], dtype="<f8")
        f.attrs["name"] = np.bytes_("untrusted")
        f.attrs["source_format"] = np.bytes_("idx")
        if edit:
            edit(f)


def replace(f, name, data, **kw):
    del f[name]
    f.create_dataset(name, data=data, **kw)


dataset("data-good.h5")
write("data-not-hdf5.h5", b"this is not HDF5\n" * 4)
dataset("data-no-test.h5", lambda f: f.__delitem__("test"))
dataset("data-dims.h5", lambda f: replace(f, "train/images", np.zeros((8, 8, 8), np.uint8)))
dataset("data-float-images.h5", lambda f: replace(f, "test/images", np.zeros((4, 1, 8, 8), np.float32)))
dataset("data-classes-float.h5", lambda f: f.attrs.create("classes", 3.5, dtype="<f8"))
dataset("data-classes-array.h5", lambda f: f.attrs.create("classes", [3, 3], dtype="<i4"))
dataset("data-classes-huge.h5", lambda f: f.attrs.create("classes", 10**7, dtype="<i8"))
dataset("data-mean-string.h5", lambda f: f.attrs.__setitem__("mean", np.bytes_("0.5")))
dataset("data-mean-count.h5", lambda f: f.attrs.create("mean", [0.5, 0.5], dtype="<f8"))
dataset("data-std-nan.h5", lambda f: f.attrs.create("std", [np.nan], dtype="<f8"))
dataset("data-no-width.h5", lambda f: f.attrs.__delitem__("width"))
dataset("data-label.h5", lambda f: replace(f, "test/labels", np.array([0, 1, 3, 2], "<i4")))
dataset("data-count.h5", lambda f: replace(f, "train/labels", np.zeros(7, "<i4")))
dataset("data-name-array.h5", lambda f: f.attrs.__setitem__("name", np.array([b"a", b"b"])))


def unstored(f):  # a chunked dataset that declares 2^20 images but stores none of them
    del f["train"]
    f.create_dataset("train/images", shape=(1 << 20, 1, 8, 8), dtype=np.uint8, chunks=(1024, 1, 8, 8))
    f.create_dataset("train/labels", shape=(1 << 20,), dtype="<i4", chunks=(1 << 16,))


dataset("data-unstored.h5", unstored)


def overflow(f):  # (2^30 - 1) x 16 x 65536 x 65536 bytes: the product of the dimensions overflows 64 bits
    del f["train"]
    f.create_dataset("train/images", shape=((1 << 30) - 1, 16, 65536, 65536), dtype=np.uint8, chunks=(1, 1, 64, 64))
    f.create_dataset("train/labels", shape=((1 << 30) - 1,), dtype="<i4", chunks=(1 << 16,))
    del f["test"]
    f.create_dataset("test/images", shape=(0, 16, 65536, 65536), maxshape=(None, 16, 65536, 65536),
                     dtype=np.uint8, chunks=(1, 1, 64, 64))
    f.create_dataset("test/labels", shape=(0,), dtype="<i4")
    for k, v in (("channels", 16), ("height", 65536), ("width", 65536)):
        f.attrs.create(k, v, dtype="<i4")
    f.attrs.create("mean", [0.5] * 16, dtype="<f8")
    f.attrs.create("std", [0.25] * 16, dtype="<f8")


dataset("data-overflow.h5", overflow)

# ------------------------------------------------------------------ pof's model / checkpoint files


def wrn_sizes(depth, width, base, in_c, classes):
    n, w = (depth - 4) // 6, [base, base * width, 2 * base * width, 4 * base * width]
    names, off, bn = [("conv1.weight", 9 * w[0] * in_c)], 9 * w[0] * in_c, 0
    c = w[0]
    for st in (1, 2, 3):
        for j in range(n):
            out, stride = w[st], (2 if j == 0 and st > 1 else 1)
            p = f"layer{st}.{j}."
            t = [(p + "bn1.weight", c), (p + "bn1.bias", c), (p + "conv1.weight", 9 * out * c), (p + "bn2.weight", out),
                 (p + "bn2.bias", out), (p + "conv2.weight", 9 * out * out)]
            if stride != 1 or c != out:
                t.append((p + "shortcut.0.weight", out * c))
            names += t
            bn += 2 * c + 2 * out
            c = out
    names += [("bn1.weight", w[3]), ("bn1.bias", w[3])]
    bn += 2 * w[3]
    nf = sum(k for _, k in names)
    names += [("linear.weight", classes * w[3]), ("linear.bias", classes)]
    return names, nf, bn


TENSORS, NF, NBN = wrn_sizes(10, 1, 4, 1, 3)
NP = sum(k for _, k in TENSORS)


def offset_of(name):
    off = 0
    for n, k in TENSORS:
        if n == name:
            return off
        off += k
    raise KeyError(name)


def model(rel, meta_over=None, params_edit=None, running_edit=None, h5_edit=None):
    meta = dict(depth=10, width=1, base=4, in_c=1, in_h=8, in_w=8, classes=3, dataset="untrusted", n_params=NP,
                n_feature=NF, n_bn_state=NBN, kind="pretrain", epochs_done=2, step_in_epoch=0, global_step=8,
                seed=1, ranks=1, lr_base=0.1, lr_factor=0.2, schedule=0, milestones=[60, 120], warmup_epochs=0,
                schedule_epochs=2, run_start_epoch=0, options_json="{}")
    meta.update(meta_over or {})
    params = rng.normal(0, 0.1, NP)
    running = np.concatenate([np.zeros(NBN // 2), np.ones(NBN // 2)]).astype(np.float32)
    if params_edit:
        params_edit(params)
    if running_edit:
        running_edit(running)
    path = os.path.join(root, rel)
    pofmodel.write_model(path, meta, params, running)
    if h5_edit:
        with h5py.File(path, "r+") as f:
            h5_edit(f)


def attr(name, value, dtype="<i8"):
    return lambda f: f.attrs.create(name, value, dtype=dtype)


model("model-good.h5")
model("model-nan.h5", params_edit=lambda p: p.__setitem__(offset_of("layer2.0.conv1.weight") + 5, np.nan))
model("model-inf.h5", params_edit=lambda p: p.__setitem__(offset_of("linear.bias") + 1, np.inf))
model("model-big.h5", params_edit=lambda p: p.__setitem__(offset_of("bn1.bias"), 1e300))  # inf as float
model("model-running-nan.h5", running_edit=lambda r: r.__setitem__(5, np.nan))
model("model-arch.h5", h5_edit=attr("depth", 16))
model("model-depth-6n4.h5", h5_edit=attr("depth", 12))
model("model-depth-huge.h5", h5_edit=attr("depth", 1000000))
model("model-too-large.h5", h5_edit=lambda f: [f.attrs.create(k, v, dtype="<i8")
                                               for k, v in (("depth", 994), ("width", 64), ("base", 256))])
model("model-classes.h5", h5_edit=attr("classes", 1))
model("model-epochs.h5", h5_edit=attr("epochs_done", -1))
model("model-start.h5", h5_edit=attr("run_start_epoch", 5))
model("model-seed.h5", h5_edit=attr("seed", -5))
model("model-schedule.h5", h5_edit=attr("schedule", 7))
model("model-milestone.h5", h5_edit=lambda f: f.attrs.create("milestones", [60, -3] + [0] * 14, dtype="<i8"))
model("model-lr-nan.h5", h5_edit=attr("lr_base", np.nan, "<f8"))
model("model-post-lr.h5", h5_edit=attr("post_lr", -0.5, "<f8"))
model("model-acc.h5", h5_edit=lambda f: [f.attrs.create("acc_seen", 4, dtype="<i8"),
                                         f.attrs.create("acc_wrong", 9, dtype="<i8")])
model("model-acc-stat.h5", h5_edit=attr("acc_stat_s", [0, 0, np.inf, 0, 0, 0, 0, 0], "<f8"))
model("model-momentum-flag.h5", h5_edit=attr("have_momentum", 2))
model("model-int-big.h5", h5_edit=attr("global_step", 1 << 40))
model("model-attr-array.h5", h5_edit=attr("epochs_done", [2, 2]))
model("model-attr-string.h5", h5_edit=lambda f: f.attrs.__setitem__("seed", np.bytes_("1")))
model("model-attr-missing.h5", h5_edit=lambda f: f.attrs.__delitem__("seed"))
model("model-kind.h5", h5_edit=lambda f: f.attrs.__setitem__("kind", np.bytes_("finetune")))
model("model-version.h5", h5_edit=attr("format_version", 2))
model("model-incomplete.h5", h5_edit=attr("complete", 0))
model("model-params-2d.h5", h5_edit=lambda f: replace(f, "params", f["params"][:].reshape(1, -1)))
model("model-params-int.h5", h5_edit=lambda f: replace(f, "params", f["params"][:].astype("<i8")))
model("model-bn-short.h5", h5_edit=lambda f: replace(f, "bn_running", f["bn_running"][:-1]))


def flip_data(f):  # the data change, the stored checksum stays
    p = f["params"][:]
    p[3] += 1.0
    f["params"][:] = p


model("model-crc.h5", h5_edit=flip_data)
with open(os.path.join(root, "model-good.h5"), "rb") as f:
    write("model-trunc.h5", f.read()[:3000])
print("generated", len(os.listdir(root)), "inputs in", root)
