#!/usr/bin/python3
"""analysis/ against the real pof binary on a tiny Fashion-MNIST subset (256 train (128 or 64 used), 64 test images):
  import: a PyTorch WRN-10-1 (random weights, non-trivial BN statistics, `module.` prefixes) ->
          torch_import.py -> `pof eval` gives PyTorch's test loss and error (|Δloss| <= 1e-5 rel.)
  export: `pof pretrain` (1 epoch, 2 steps) -> torch_export.py -> PyTorch logits equal pof's engine logits
          (tests/analysis/pof_logits) within 1e-4 * (1 + |logit|)
  refusals: conv biases, a wrong shape, a missing tensor -> non-zero exit naming the problem
  real run directories: curves.py and pof_diag.py on the pretrain run and a 1-epoch PoF posttrain
          with -run_step_log -run_gap.
Usage: test_torch_io.py POF POF_LOGITS SOURCE_DIR"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.nn.functional as F

pof, pof_logits, src = sys.argv[1:4]
sys.path.insert(0, os.path.join(src, "analysis"))
import pof_torch as pt  # noqa: E402
import pofmodel as pm  # noqa: E402

A = os.path.join(src, "analysis")
FM = "/usr/share/datasets/fashion-mnist"
failed = passed = 0


def check(cond, what):
    global failed, passed
    if cond:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}")


def sh(args, expect=0):
    p = subprocess.run(args, capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        print(p.stdout[-3000:], p.stderr[-3000:])
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(args)}")
    return p


def mpi(*args):
    return sh([os.environ.get("MPIEXEC", "mpiexec"), "--oversubscribe", "-n", "2", "-x", "OMP_NUM_THREADS=1", pof, *args])


def last_json(out):
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def tiny_idx(d, ntr, nte):
    for name, n in (("train-images-idx3-ubyte", ntr), ("train-labels-idx1-ubyte", ntr),
                    ("t10k-images-idx3-ubyte", nte), ("t10k-labels-idx1-ubyte", nte)):
        b = gzip.open(os.path.join(FM, name + ".gz")).read()
        nd = b[3]
        dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
        per = int(np.prod(dims[1:])) if nd > 1 else 1
        with open(os.path.join(d, name), "wb") as f:
            f.write(b[:4] + struct.pack(">I", n) + b[8:4 + 4 * nd] + b[4 + 4 * nd:4 + 4 * nd + n * per])


def test_data(path):
    with h5py.File(path, "r") as f:
        x = np.asarray(f["test/images"], dtype=np.float32) / 255.0
        y = np.asarray(f["test/labels"], dtype=np.int64)
        mean, std = np.asarray(f.attrs["mean"]), np.asarray(f.attrs["std"])
    x = (x - mean.reshape(1, -1, 1, 1).astype(np.float32)) / std.reshape(1, -1, 1, 1).astype(np.float32)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


with tempfile.TemporaryDirectory(prefix="pof_torch_io_") as t:
    j = lambda *p: os.path.join(t, *p)  # noqa: E731
    os.makedirs(j("idx"))
    tiny_idx(j("idx"), 256, 64)
    sh([pof, "convert", "-convert_format", "idx", "-convert_output", j("d.h5"), "-convert_name", "fashion-mnist",
        "-convert_train_images", j("idx", "train-images-idx3-ubyte"), "-convert_train_labels", j("idx", "train-labels-idx1-ubyte"),
        "-convert_test_images", j("idx", "t10k-images-idx3-ubyte"), "-convert_test_labels", j("idx", "t10k-labels-idx1-ubyte")])
    x, y = test_data(j("d.h5"))

    # ---- import: PyTorch -> pof
    torch.manual_seed(3)
    m = pt.WRN(10, 1, 16, 1, 10)
    with torch.no_grad():
        for bn in m.bn_modules():  # trained-looking BN: non-trivial affine and running statistics
            bn.weight.uniform_(0.5, 1.5); bn.bias.uniform_(-0.2, 0.2)
            bn.running_mean.uniform_(-0.3, 0.3); bn.running_var.uniform_(0.5, 2.0)
        m.linear.bias.uniform_(-0.1, 0.1)
    m.eval()
    with torch.no_grad():
        ref_logits = m(x)
        ref_loss = F.cross_entropy(ref_logits.double(), y).item()
        ref_err = 100.0 * (ref_logits.argmax(1) != y).float().mean().item()
    sd = m.state_dict()
    # the reference code's files: {"param": DDP state dict, "optim": ...}, its names (layer{s}.num_{j}, bn_out,
    # classifiers.0); the BN count buffers are dropped
    fe_ref = pm.to_reference({k: v for k, v in sd.items() if not k.startswith("linear.")})
    torch.save({"param": {"module." + k: v for k, v in fe_ref.items()}, "optim": {}}, j("fe.pt"))
    torch.save({"param": {"module.classifiers.0.weight": sd["linear.weight"], "module.classifiers.0.bias": sd["linear.bias"]},
                "optim": {}}, j("cl.pt"))
    check(any(".num_0." in k for k in fe_ref) and "bn_out.running_var" in fe_ref, "import input uses the reference names")
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("fe.pt"), "--classifier", j("cl.pt"),
            "--data", j("d.h5"), "--out", j("imp.h5")])
    ev = last_json(sh([pof, "eval", "-data_file", j("d.h5"), "-model_in", j("imp.h5")]).stdout)
    print(f"import: pof eval loss {ev['test_loss']:.9g} error {ev['test_error']}, PyTorch loss {ref_loss:.9g} error {ref_err:.4f}")
    check(abs(ev["test_loss"] - ref_loss) <= 1e-5 * abs(ref_loss), f"import: pof eval loss {ev['test_loss']} == PyTorch {ref_loss} (rel. 1e-5)")
    check(abs(ev["test_error"] - ref_err) < 1e-3, "import: pof eval error == PyTorch error")
    # the imported file's /tensors (pofmodel.write_tensors) hold the PyTorch tensors by name
    m2 = pt.WRN(10, 1, 16, 1, 10)
    m2.load_state_dict({k: torch.from_numpy(v) for k, v in pm.read_tensors(j("imp.h5")).items()}, strict=True)
    check(all(torch.equal(v.float(), sd[k].float()) for k, v in m2.state_dict().items() if "num_batches" not in k),
          "import: the file's /tensors load strictly and equal the PyTorch model's tensors")
    # the imported model is usable for post-training (schedule read at epochs_done, -opt_lr override)
    sh([pof, "posttrain", "-data_file", j("d.h5"), "-model_in", j("imp.h5"), "-run_epochs", "1", "-opt_batch", "64",
        "-data_train_subset", "64", "-opt_lr", "0.01", "-run_dir", j("imp_post"), "-run_quiet"])
    check(os.path.exists(j("imp_post", "model.h5")), "import: pof posttrain runs from the imported model")

    # ---- refusals
    bad = dict(pm.torch_load_weights(j("fe.pt"), torch)["param"])
    bad["module.layer1.num_0.conv1.bias"] = torch.zeros(16)
    torch.save(bad, j("bias.pt"))
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("bias.pt"), "--classifier", j("cl.pt"),
            "--data", j("d.h5"), "--out", j("bad.h5")], expect=None)
    check(p.returncode != 0 and "layer1.num_0.conv1.bias" in p.stderr and "no bias" in p.stderr and not os.path.exists(j("bad.h5")),
          f"import refuses conv biases: {p.stderr.strip()}")
    bad = dict(pm.torch_load_weights(j("fe.pt"), torch)["param"])
    bad["module.layer2.num_0.conv2.weight"] = torch.zeros(32, 32, 3, 1)
    torch.save(bad, j("shape.pt"))
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("shape.pt"), "--classifier", j("cl.pt"),
            "--data", j("d.h5"), "--out", j("bad.h5")], expect=None)
    check(p.returncode != 0 and "layer2.0.conv2.weight" in p.stderr and "shape" in p.stderr, f"import refuses a wrong shape: {p.stderr.strip()}")
    bad = dict(pm.torch_load_weights(j("fe.pt"), torch)["param"])
    del bad["module.bn_out.running_var"]
    torch.save(bad, j("miss.pt"))
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("miss.pt"), "--classifier", j("cl.pt"),
            "--data", j("d.h5"), "--out", j("bad.h5")], expect=None)
    check(p.returncode != 0 and "bn1.running_var" in p.stderr, f"import refuses a missing tensor: {p.stderr.strip()}")
    torch.save({"weight": torch.zeros(10, 32), "bias": torch.zeros(10)}, j("cl_bad.pt"))
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("fe.pt"), "--classifier", j("cl_bad.pt"),
            "--data", j("d.h5"), "--out", j("bad.h5")], expect=None)
    check(p.returncode != 0 and "classifier" in p.stderr, f"import refuses a classifier of the wrong width: {p.stderr.strip()}")

    # a .pt file whose pickle runs code when loaded (here: it would create a marker file) is refused
    # unread: its payload never runs
    marker = j("payload-ran")

    class Payload:
        def __reduce__(self):
            return (open, (marker, "w"))

    torch.save({"param": dict(pm.torch_load_weights(j("fe.pt"), torch)["param"]), "x": Payload()}, j("payload.pt"))
    check(not os.path.exists(marker), "payload file written without running the payload")
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("payload.pt"), "--classifier", j("cl.pt"),
            "--data", j("d.h5"), "--out", j("bad.h5")], expect=None)
    check(p.returncode != 0 and "payload.pt" in p.stderr and "other than weights" in p.stderr and not os.path.exists(marker)
          and not os.path.exists(j("bad.h5")), f"import refuses a pickle payload, which never runs: {p.stderr.strip()}")

    # ---- export: pof -> PyTorch
    mpi("pretrain", "-data_file", j("d.h5"), "-model_depth", "10", "-model_width", "1", "-run_epochs", "1", "-opt_batch", "64",
        "-data_train_subset", "128", "-run_dir", j("pre"), "-run_seed", "5")
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_export.py"), j("pre", "model.h5"), "--features", j("efe.pt"),
            "--classifier", j("ecl.pt"), "--whole", j("ewh.pt")])
    arch = last_json(p.stdout)
    n = 32
    x[:n].numpy().astype(np.float32).tofile(j("x.f32"))
    sh([pof_logits, j("pre", "model.h5"), j("x.f32"), str(n), j("z.f32")])
    z_pof = torch.from_numpy(np.fromfile(j("z.f32"), dtype=np.float32).reshape(n, 10))
    e = pt.WRN(arch["depth"], arch["width"], arch["base"], arch["in_c"], arch["classes"])
    fr, cr = pm.torch_load_weights(j("efe.pt"), torch), pm.torch_load_weights(j("ecl.pt"), torch)
    check(set(fr) == {"param", "optim"} and "layer3.num_0.shortcut.0.weight" in fr["param"] and "bn_out.weight" in fr["param"]
          and set(cr["param"]) == {"classifiers.0.weight", "classifiers.0.bias"}, "export: the reference code's file shape and names")
    fe = pm.to_canonical(fr["param"])
    e.load_state_dict({**fe, "linear.weight": cr["param"]["classifiers.0.weight"], "linear.bias": cr["param"]["classifiers.0.bias"]})  # strict
    opt = torch.optim.SGD(e.feature_parameters(), lr=0.1, momentum=0.9, nesterov=True)
    opt.load_state_dict(fr["optim"])  # raises if the parameter groups do not fit
    check(len(opt.param_groups[0]["params"]) == len(e.feature_parameters()), "export: the optimizer state fits the feature extractor")
    sh(["/usr/bin/python3", os.path.join(A, "torch_export.py"), j("pre", "model.h5"), "--layout", "canonical",
        "--features", j("cfe.pt"), "--classifier", j("ccl.pt")])
    cf, cc = pm.torch_load_weights(j("cfe.pt"), torch), pm.torch_load_weights(j("ccl.pt"), torch)
    check(list(cf) == [k for k in e.state_dict() if not k.startswith("linear.")] and all(torch.equal(cf[k], fe[k]) for k in cf)
          and set(cc) == {"weight", "bias"}, "export --layout canonical: plain state dicts in pof_torch's names")
    e.eval()
    with torch.no_grad():
        z_pt = e(x[:n])
    err = ((z_pt - z_pof).abs() / (1 + z_pof.abs())).max().item()
    print(f"export: max |logit_torch - logit_pof| / (1 + |logit_pof|) = {err:.3g} over {n} images x 10 classes")
    check(err <= 1e-4, "export: PyTorch logits equal pof's (1e-4 relative)")
    w = pm.torch_load_weights(j("ewh.pt"), torch)
    check(all(torch.equal(w[k], v) for k, v in fe.items()), "export: --whole holds the same tensors")
    ev = last_json(sh([pof, "eval", "-data_file", j("d.h5"), "-model_in", j("pre", "model.h5")]).stdout)
    with torch.no_grad():
        zl = e(x)
    check(abs(F.cross_entropy(zl.double(), y).item() - ev["test_loss"]) <= 1e-5 * ev["test_loss"], "export: PyTorch test loss == pof eval")
    # round trip: export -> import gives a file pof evaluates identically
    sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("ewh.pt"), "--data", j("d.h5"), "--out", j("rt.h5")])
    ev2 = last_json(sh([pof, "eval", "-data_file", j("d.h5"), "-model_in", j("rt.h5")]).stdout)
    check(ev2["test_loss"] == ev["test_loss"], "round trip pof -> PyTorch -> pof: same eval loss")
    # the reference code's layout carries an optimizer state with floats (lr, momentum), which torch
    # 1.13's weights_only unpickler cannot read: it is read with the allowlist unpickler, and imports
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("efe.pt"), "--classifier", j("ecl.pt"),
            "--data", j("d.h5"), "--out", j("rt2.h5")], expect=None)
    ev3 = last_json(sh([pof, "eval", "-data_file", j("d.h5"), "-model_in", j("rt2.h5")]).stdout) if p.returncode == 0 else {}
    check(p.returncode == 0 and ev3.get("test_loss") == ev["test_loss"],
          f"round trip through the reference layout (optimizer floats): same eval loss {ev3.get('test_loss')}")
    # ... and the same payload behind such floats is still refused unread
    marker2 = j("payload2-ran")

    class Payload2:
        def __reduce__(self):
            return (open, (marker2, "w"))

    torch.save({"param": fr["param"], "optim": fr["optim"], "x": Payload2()}, j("payload2.pt"))
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_import.py"), "--features", j("payload2.pt"), "--classifier", j("ecl.pt"),
            "--data", j("d.h5"), "--out", j("bad2.h5")], expect=None)
    check(p.returncode != 0 and "is not allowed in a file of weights" in p.stderr and not os.path.exists(marker2)
          and not os.path.exists(j("bad2.h5")), f"a payload after the optimizer floats is refused and never runs: {p.stderr.strip()[-160:]}")
    # a corrupted file is refused by the exporter (CRC) like pof does
    with h5py.File(j("rt.h5"), "r+") as f:
        f["params"][0] += 1.0
    p = sh(["/usr/bin/python3", os.path.join(A, "torch_export.py"), j("rt.h5"), "--features", j("a.pt"), "--classifier", j("b.pt")], expect=None)
    check(p.returncode != 0 and "corrupt" in p.stderr, f"export refuses a corrupt file: {p.stderr.strip()}")

    # ---- real run directories through curves.py and pof_diag.py
    mpi("posttrain", "-data_file", j("d.h5"), "-model_in", j("pre", "model.h5"), "-run_epochs", "1", "-opt_batch", "64",
        "-data_train_subset", "128", "-run_dir", j("pof"), "-run_seed", "1", "-pof_mode", "global", "-run_step_log", "-run_gap",
        "-run_gap_samples", "64")
    sh(["/usr/bin/python3", os.path.join(A, "curves.py"), j("pre"), j("pof"), "--out", j("o")])
    sh(["/usr/bin/python3", os.path.join(A, "pof_diag.py"), j("pof"), "--out", j("o")])
    import csv
    rows = list(csv.DictReader(open(j("o", "curves.csv"))))
    check([r["run"] for r in rows] == ["pre", "pof"] and [r["epoch"] for r in rows] == ["1", "2"], "curves.py on real runs: one row per epoch")
    check(all(r["test_loss"] not in ("", "nan") for r in rows) and rows[1]["loss_gap"] not in ("", "nan"), "curves.py on real runs: losses and gap read")
    d = list(csv.DictReader(open(j("o", "pof_diag.csv"))))
    check(len(d) == 1 and all(d[0][k] not in ("", "nan") for k in ("eta_star_mean", "kappa_mean", "gamma_std", "pert_norm_mean")),
          "pof_diag.py on a real run: the pof object is read")
    s = list(csv.DictReader(open(j("o", "pof_steps.csv"))))
    check(len(s) == 2 and all(r["eta_max"] not in ("", "nan") for r in s), "pof_diag.py on a real run: 2 steps from steps.jsonl")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
