#!/usr/bin/python3
"""Seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/), small valid inputs.

Usage: make_corpus.py POF_BINARY [OUT_DIR]   (OUT_DIR defaults to tests/fuzz/corpus)

Raw formats are written here (IDX, gzip IDX, CIFAR-10/100 records, SVHN .mat files through
scipy.io.savemat, metrics/steps rows and an options_json). The HDF5 seeds come from pof itself:
`pof convert` of the IDX seed gives the dataset, a one-epoch `pof pretrain` of a WRN-10-1 with
base 1 and a `pof posttrain` from it give a model file and checkpoints (with momentum, with theta0,
mid-epoch). pof's dataset file has 1 MiB chunks, so it is repacked with h5py (same datasets,
attributes and types, contiguous layout): a few KB instead of 1 MiB. Deterministic inputs (fixed
seeds); HDF5 files differ in timestamps only where HDF5 writes them (it does not by default).
"""
import gzip, json, os, shutil, struct, subprocess, sys, tempfile
import h5py, numpy as np, scipy.io

pof = os.path.abspath(sys.argv[1])
out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "corpus"))
rng = np.random.default_rng(5)


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx_images(n, h, w):
    return bytes([0, 0, 8, 3]) + struct.pack(">III", n, h, w) + rng.integers(0, 256, n * h * w, dtype=np.uint8).tobytes()


def idx_labels(labels):
    return bytes([0, 0, 8, 1]) + struct.pack(">I", len(labels)) + bytes(labels)


# IDX: images then labels (fuzz_idx cuts where the image header says the images end)
put("idx", "seed-3x4x4", idx_images(3, 4, 4) + idx_labels([0, 1, 2]))
put("idx", "seed-1x1x1", idx_images(1, 1, 1) + idx_labels([0]))
put("idx", "seed-5x2x3", idx_images(5, 2, 3) + idx_labels([1, 0, 1, 1, 0]))
# gzip IDX: 4-byte little-endian length of the gzip image file, the gzip image file, the gzip labels
for name, (img, lab) in {"seed-3x4x4": (idx_images(3, 4, 4), idx_labels([0, 1, 2])),
                         "seed-2x3x3": (idx_images(2, 3, 3), idx_labels([1, 0]))}.items():
    gi, gl = gzip.compress(img, mtime=0), gzip.compress(lab, mtime=0)
    put("idx_gz", name, struct.pack("<I", len(gi)) + gi + gl)
# CIFAR: records of label byte(s) + 3072 pixels; fuzz_cifar reads the file as CIFAR-10 and CIFAR-100
put("cifar", "seed-cifar10-1", bytes([3]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes())
put("cifar", "seed-cifar100-1", bytes([4, 17]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes())
put("cifar", "seed-cifar10-2", b"".join(bytes([k]) + bytes(3072) for k in (0, 9)))
# SVHN: MATLAB v5 files with X (H x W x C x N uint8) and y (N x 1) in 1..10
with tempfile.TemporaryDirectory() as t:
    for name, comp, ytype in (("seed-plain", False, np.float64), ("seed-compressed", True, np.uint8),
                              ("seed-int32", False, np.int32)):
        x = rng.integers(0, 256, (2, 3, 3, 2), dtype=np.uint8)
        y = np.array([[10], [1]], dtype=ytype)
        p = os.path.join(t, name + ".mat")
        scipy.io.savemat(p, {"X": x, "y": y, "note": np.array([1.5])}, do_compression=comp)
        with open(p, "rb") as f:
            data = bytearray(f.read())
        data[:116] = b"MATLAB 5.0 MAT-file, Platform: posix, Created on: fuzz seed".ljust(116)
        put("svhn", name, bytes(data))
# JSON: metrics/steps rows (some after epoch 3 step 2, one cut) and options_json texts
rows = [{"epoch": e, "step": s, "loss": 0.5 / (e + s)} for e in (1, 2, 3, 4) for s in (0, 1, 2, 3)]
text = "".join(json.dumps(r) + "\n" for r in rows) + '{"epoch": 4, "ste'
put("json", "seed-rows", text.encode())
put("json", "seed-options", json.dumps({"opt_lr": 0.1, "opt_batch": 64, "run_dir": "x",
                                        "model_depth": 10, "opt_milestones": [60, 120]}).encode())

# HDF5 seeds through pof
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           HDF5_USE_FILE_LOCKING="FALSE", OMP_NUM_THREADS="1")
with tempfile.TemporaryDirectory() as t:
    def run(*args):
        r = subprocess.run([pof, *args], cwd=t, env=env, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"make_corpus: pof {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    labels = [k % 3 for k in range(16)]
    for n, lab in (("tr", labels), ("te", labels[:8])):
        open(os.path.join(t, n + "-img"), "wb").write(idx_images(len(lab), 8, 8))
        open(os.path.join(t, n + "-lab"), "wb").write(idx_labels(lab))
    run("convert", "-convert_format", "idx", "-convert_train_images", "tr-img", "-convert_train_labels",
        "tr-lab", "-convert_test_images", "te-img", "-convert_test_labels", "te-lab",
        "-convert_output", "big.h5", "-convert_name", "fuzz")
    with h5py.File(os.path.join(t, "big.h5"), "r") as src, h5py.File(os.path.join(t, "data.h5"), "w") as dst:
        for k, v in src.attrs.items():
            dst.attrs.create(k, v, dtype=src.attrs.get_id(k).dtype)
        for g in ("train", "test"):
            for d in ("images", "labels"):
                dst.create_dataset(f"{g}/{d}", data=src[g][d][()], dtype=src[g][d].dtype)
    put("dataset", "seed-8x8", open(os.path.join(t, "data.h5"), "rb").read())
    model = ["-model_depth", "10", "-model_width", "1", "-model_base", "1"]
    run("pretrain", "-data_file", "data.h5", *model, "-opt_batch", "4", "-run_epochs", "1",
        "-run_dir", "pre", "-run_quiet", "-ckpt_every_steps", "3", "-ckpt_keep", "10")
    ck = sorted(f for f in os.listdir(os.path.join(t, "pre")) if f.startswith("ckpt-") and f.endswith(".h5"))
    put("ckpt", "seed-pretrain-mid", open(os.path.join(t, "pre", ck[0]), "rb").read())
    put("ckpt", "seed-pretrain-end", open(os.path.join(t, "pre", ck[-1]), "rb").read())
    put("model", "seed-pretrain", open(os.path.join(t, "pre", ck[-1]), "rb").read())
    run("posttrain", "-data_file", "data.h5", "-model_in", os.path.join("pre", ck[-1]), "-opt_batch", "4",
        "-run_epochs", "1", "-run_dir", "post", "-run_quiet")
    ck = sorted(f for f in os.listdir(os.path.join(t, "post")) if f.startswith("ckpt-") and f.endswith(".h5"))
    put("ckpt", "seed-posttrain", open(os.path.join(t, "post", ck[-1]), "rb").read())
    put("model", "seed-posttrain", open(os.path.join(t, "post", ck[-1]), "rb").read())
    # pof info: a dataset, a finished run's model.h5, a PoF checkpoint (both with /tensors, the
    # PyTorch-named views pof writes) and an HDF5 file without pof's layout
    put("info", "seed-dataset", open(os.path.join(t, "data.h5"), "rb").read())
    put("info", "seed-model", open(os.path.join(t, "pre", "model.h5"), "rb").read())
    put("info", "seed-posttrain", open(os.path.join(t, "post", ck[-1]), "rb").read())
    with h5py.File(os.path.join(t, "other.h5"), "w") as f:
        f.attrs["format_version"] = np.int64(1)
        f.create_dataset("train", data=np.arange(4, dtype=np.int64))
    put("info", "seed-other", open(os.path.join(t, "other.h5"), "rb").read())
