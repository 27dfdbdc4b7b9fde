#!/usr/bin/python3
"""What a user sees (issue 31), with the real pof binary on a 512/128-image Fashion-MNIST subset
(WRN-10-1, base 4, batch 32: 16 steps an epoch), in one script so the runs are shared:
  progress: -run_progress 0.001 (each step takes longer) prints a line per step, so an epoch
            prints at least three; progress.json at the end equals the last metrics.jsonl row;
            steps.jsonl holds every step's global loss and error, whose means are the epoch's row;
            1 and 2 ranks give the same global figures (at -opt_lr 0, so that both see the same
            model at every step: to 1e-12);
  gamma_max 0: posttrain with -pof_gamma_max 0 equals the SGD control (-pof_mode off) bit for bit
            at 1 (as a line of a 2-line sweep) and at 2 ranks; gamma_max 1 does not (negative
            control);
  /tensors: WRN-10-1 (trained), WRN-16-2 (2 steps) and WRN-28-10 with base 4 (built, not
            trained: -run_epochs 0, on 1x8x8 images; base 16 has the same names and shapes but
            16x the parameters) load into pof_torch.WRN with load_state_dict(strict=True) and give
            pof's logits (tests/analysis/pof_logits); the 2-rank run's model (MPI-IO) too;
  bf16:     pof bench prints oneDNN's ISA and the measured peak; -precision bf16 held to
            avx512_core (ONEDNN_MAX_CPU_ISA, as on a CPU without bf16 instructions) warns once
            with the one-step probe's ratio, and does not where bf16 is native (the decision
            itself for every ISA: test_nn's test_bf16_decision);
  pof info: a dataset, a model, a checkpoint, a run and a sweep directory each validated against
            the schema of docs/file-formats.md ("pof info"), checksums_ok false for a checkpoint
            with a flipped data byte, exit 1 with one error line for a file that is not pof's.
Usage: test_ux.py POF POF_LOGITS SOURCE_DIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch

pof, pof_logits, src = sys.argv[1:4]
sys.path.insert(0, os.path.join(src, "analysis"))
import pof_torch as pt  # noqa: E402
import pofmodel as pm  # noqa: E402

FM = "/usr/share/datasets/fashion-mnist"
MPIEXEC = os.environ.get("MPIEXEC", "mpiexec")
failed = passed = 0


def check(cond, what):
    global failed, passed
    passed += bool(cond)
    failed += not cond
    print(("ok   " if cond else "FAIL ") + what, flush=True)


def sh(args, expect=0):
    p = subprocess.run(args, capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        print(p.stdout[-3000:], p.stderr[-3000:])
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(args)}")
    return p


def run(n, *args, expect=0):
    return sh([MPIEXEC, "--oversubscribe", "-n", str(n), "-x", "OMP_NUM_THREADS=1", pof, *args], expect)


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def rows(path):
    return [json.loads(l) for l in open(path)]


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


# ---- the schema of docs/file-formats.md, "pof info" (keep the two in step) -----------------------
INT, NUM, STR, BOOL, OBJ, ARR = int, (int, float), str, bool, dict, list
COMMON = {"kind": STR, "path": STR, "checksums_ok": (bool, type(None)), "command": STR, "status": STR}
SCHEMA = {
    "dataset": {"name": STR, "shape": ARR, "classes": INT, "n_train": INT, "n_test": INT, "mean": ARR,
                "std": ARR},
    "model": {"architecture": STR, "depth": INT, "width": INT, "base": INT, "input": ARR, "classes": INT,
              "dataset": STR, "n_params": INT, "run_kind": STR, "epochs_done": INT, "step_in_epoch": INT,
              "global_step": INT, "ranks": INT, "have_momentum": BOOL, "have_theta0": BOOL,
              "tensors": BOOL, "schedule": OBJ, "options": OBJ},
    "run": {"run_status": STR, "newest_checkpoint": (dict, type(None)), "metrics_rows": INT,
            "last_metrics": (dict, type(None)), "progress": (dict, type(None))},
    "sweep": {"lines": INT, "lines_ok": INT, "lines_failed": INT, "lines_pending": INT, "summary_rows": INT},
}
SCHEMA["checkpoint"] = SCHEMA["model"]
SCHEDULE = {"kind": STR, "lr_base": NUM, "factor": NUM, "milestones": ARR, "warmup_epochs": INT, "epochs": INT}


def schema_errors(o):
    """The ways o breaks the documented schema ([] if none)."""
    kind = o.get("kind")
    if kind not in SCHEMA:
        return [f"kind {kind!r}"]
    want = dict(COMMON, **SCHEMA[kind])
    errs = [f"{k}: missing" for k in want if k not in o]
    errs += [f"{k}: {type(o[k]).__name__}" for k, t in want.items()
             if k in o and (not isinstance(o[k], t) or (t is INT and isinstance(o[k], bool)))]
    if o.get("checksums_ok") is False and not isinstance(o.get("checksum_error"), str):
        errs.append("checksums_ok false without checksum_error")
    if kind in ("model", "checkpoint"):
        errs += [f"schedule.{k}" for k, t in SCHEDULE.items() if not isinstance(o["schedule"].get(k), t)]
    if kind == "run" and o.get("newest_checkpoint"):
        errs += ["newest_checkpoint: " + e for e in schema_errors(o["newest_checkpoint"])
                 if not e.startswith(("command", "status"))]
    return errs


def info(path, expect=0):
    p = run(1, "info", path, expect=expect)
    return p, (last_json(p.stdout) if p.stdout.strip() else None)


def logits_pof(model, x):
    x.astype(np.float32).tofile(os.path.join(W, "x.f32"))
    sh([pof_logits, model, os.path.join(W, "x.f32"), str(len(x)), os.path.join(W, "z.f32")])
    return np.fromfile(os.path.join(W, "z.f32"), dtype=np.float32).reshape(len(x), -1)


def torch_logits(model_path, x):
    meta = pm.read_model(model_path)[0]
    m = pt.WRN(meta["depth"], meta["width"], meta["base"], meta["in_c"], meta["classes"])
    sd = {k: torch.from_numpy(v) for k, v in pm.read_tensors(model_path).items()}
    m.load_state_dict(sd, strict=True)  # raises on a missing, unexpected or misshapen tensor
    m.eval()
    with torch.no_grad():
        z = m(torch.from_numpy(x.astype(np.float32))).numpy()
    nbt = {int(v) for k, v in sd.items() if k.endswith("num_batches_tracked")}
    return z, nbt, meta


def check_tensors(model_path, x, what):
    try:
        zt, nbt, meta = torch_logits(model_path, x)
    except (RuntimeError, pm.ModelError) as e:
        check(False, f"{what}: load_state_dict(strict=True): {e}")
        return
    zp = logits_pof(model_path, x)
    err = float(np.max(np.abs(zt - zp) / (1 + np.abs(zp))))
    check(err <= 1e-4, f"{what}: strict load of /tensors, PyTorch logits == pof's (max rel. diff {err:.2g})")
    check(nbt == {meta["global_step"]}, f"{what}: num_batches_tracked == global step {meta['global_step']}")


W = tempfile.mkdtemp(prefix="pof-ux.")
os.chdir(W)
ok_exit = False
try:
    j = lambda *p: os.path.join(W, *p)  # noqa: E731
    sh([pof, "convert", "-convert_format", "idx", "-convert_train_images", f"{FM}/train-images-idx3-ubyte.gz",
        "-convert_train_labels", f"{FM}/train-labels-idx1-ubyte.gz", "-convert_test_images", f"{FM}/t10k-images-idx3-ubyte.gz",
        "-convert_test_labels", f"{FM}/t10k-labels-idx1-ubyte.gz", "-convert_output", "fm.h5"])
    sh([os.path.join(src, "tests/resume/make_tiny.py"), "fm.h5", "tiny.h5", "512", "128"])
    os.remove("fm.h5")
    M = ["-data_file", "tiny.h5", "-model_depth", "10", "-model_width", "1", "-model_base", "4", "-opt_batch", "32",
         "-run_seed", "3"]

    # ---- progress and the global step log, 1 and 2 ranks (-opt_lr 0: every step sees the same
    # model at both rank counts, so their global figures agree to rounding) ----------------------
    for n in (1, 2):
        p = run(n, "pretrain", *M, "-opt_lr", "0", "-run_epochs", "1", "-run_progress", "0.001", "-run_step_log",
                "-run_dir", f"pre{n}")
        lines = [l for l in p.stdout.splitlines() if l.startswith("pretrain: epoch 1/1 step ")]
        check(len(lines) >= 3, f"{n} rank(s): an epoch of 16 steps longer than 3 periods prints {len(lines)} >= 3 progress lines")
        check(all(" img/s ETA epoch " in l and " run " in l for l in lines), f"{n} rank(s): lines carry speed and ETAs: {lines[0]!r}")
        prog = json.load(open(j(f"pre{n}", "progress.json")))
        row = rows(j(f"pre{n}", "metrics.jsonl"))[-1]
        same = all(prog[k] == row[k] for k in ("epoch", "train_loss", "train_error", "test_loss", "test_error"))
        check(same and prog["step"] == prog["steps"] == 16, f"{n} rank(s): progress.json at the epoch's end == its metrics row")
        st = rows(j(f"pre{n}", "steps.jsonl"))
        check(len(st) == 16 and all(set(r) == {"epoch", "step", "loss", "error"} for r in st), f"{n} rank(s): steps.jsonl: 16 rows of epoch, step, loss, error")
        check(rel(sum(r["loss"] for r in st) / 16, row["train_loss"]) < 1e-12 and rel(sum(r["error"] for r in st) / 16, row["train_error"]) < 1e-12,
              f"{n} rank(s): the mean of the step rows' global loss and error == the epoch's metrics row")
    s1, s2 = rows(j("pre1", "steps.jsonl")), rows(j("pre2", "steps.jsonl"))
    worst = max(rel(a["loss"], b["loss"]) for a, b in zip(s2, s1))
    check(worst < 1e-12 and all(a["error"] == b["error"] for a, b in zip(s2, s1)), f"1 vs 2 ranks: every step's global loss and error agree (max rel. diff {worst:.2g})")
    p1, p2 = json.load(open(j("pre1", "progress.json"))), json.load(open(j("pre2", "progress.json")))
    check(rel(p2["train_loss"], p1["train_loss"]) < 1e-12 and p2["train_error"] == p1["train_error"], "1 vs 2 ranks: progress.json's global figures agree")

    # ---- gamma_max 0 == the SGD control, bitwise at equal rank counts ---------------------------
    # (1 rank: the sweep below runs -pof_gamma_max 1 and 0 as its lines; -run_quiet: no progress)
    P = ["-data_file", "tiny.h5", "-model_in", "pre1/model.h5", "-opt_batch", "32", "-run_epochs", "1", "-run_seed", "5",
         "-run_quiet", "-opt_lr", "0.05"]
    run(2, "posttrain", *P, "-pof_gamma_max", "0", "-run_dir", "g0_2")
    for n in (1, 2):
        run(n, "posttrain", *P, "-pof_mode", "off", "-run_dir", f"off_{n}")
    with open("grid.txt", "w") as f:
        f.write("-pof_gamma_max 1\n-pof_gamma_max 0\n")
    run(1, "sweep", "-sweep_grid", "grid.txt", "-sweep_dir", "sw", *P)

    def same_model(a, b):
        with h5py.File(a) as f, h5py.File(b) as g:
            return all(np.array_equal(f[k][:], g[k][:]) for k in ("params", "bn_running", "momentum"))
    for n, g0 in ((1, "sw/line-002/model.h5"), (2, "g0_2/model.h5")):
        check(same_model(g0, f"off_{n}/model.h5"), f"{n} rank(s): -pof_gamma_max 0 gives the SGD control's model bit for bit (params, BN statistics, momentum)")
    check(not same_model("sw/line-001/model.h5", "off_1/model.h5"), "negative control: -pof_gamma_max 1 differs from the SGD control")
    check(not os.path.exists(j("off_1", "progress.json")), "-run_quiet: no progress.json")

    # ---- /tensors: WRN-10-1, 16-2, 28-10 --------------------------------------------------------
    with h5py.File("tiny.h5") as f:
        mean, std = float(f.attrs["mean"][0]), float(f.attrs["std"][0])
        x = ((f["test/images"][:6].astype(np.float32) / 255 - mean) / std).astype(np.float32)
    check_tensors(j("off_1", "model.h5"), x, "WRN-10-1 (trained, 1 rank)")
    check_tensors(j("g0_2", "model.h5"), x, "WRN-10-1 (trained, 2 ranks: parallel HDF5 with MPI-IO)")
    run(1, "pretrain", "-data_file", "tiny.h5", "-model_depth", "16", "-model_width", "2", "-opt_batch", "32",
        "-data_train_subset", "64", "-run_epochs", "1", "-run_quiet", "-run_dir", "w16")
    check_tensors(j("w16", "model.h5"), x, "WRN-16-2 (2 steps)")
    with h5py.File("tiny.h5") as f, h5py.File("s8.h5", "w") as g:  # 1x8x8 images: a WRN-28-10 is cheap
        for k, v in f.attrs.items():
            g.attrs.create(k, v, dtype=f.attrs.get_id(k).dtype)
        g.attrs.create("height", 8, dtype=f.attrs.get_id("height").dtype)
        g.attrs.create("width", 8, dtype=f.attrs.get_id("width").dtype)
        for split in ("train", "test"):
            g.create_dataset(f"{split}/images", data=f[f"{split}/images"][:8, :, ::3, ::3][:, :, :8, :8].copy())
            g.create_dataset(f"{split}/labels", data=f[f"{split}/labels"][:8])
    # base 4 instead of 16: the same tensor names and ranks, 2.3 M parameters instead of 36.5 M
    run(1, "pretrain", "-data_file", "s8.h5", "-model_depth", "28", "-model_width", "10", "-model_base", "4",
        "-opt_batch", "8", "-run_epochs", "0", "-run_quiet", "-run_dir", "w28")
    check_tensors(j("w28", "model.h5"), x[:2, :, ::3, ::3][:, :, :8, :8].copy(), "WRN-28-10 base 4 (built, not trained)")

    # ---- bf16 on this CPU: oneDNN's ISA and the measured peak in pof bench; the warning where
    # bf16 is emulated, observed by holding oneDNN to avx512_core (ONEDNN_MAX_CPU_ISA) ------------
    B = ["-model_depth", "10", "-model_width", "1", "-model_base", "4", "-opt_batch", "8", "-bench_steps", "1",
         "-bench_warmup", "0", "-bench_input", "1x28x28"]
    p = run(1, "bench", *B)
    cpu = last_json(p.stdout).get("cpu", {})
    check(cpu.get("peak_fp32_gflops", 0) > 0 and cpu.get("onednn_isa") and f"oneDNN ISA {cpu.get('onednn_isa')}" in p.stdout
          and "measured peak" in p.stdout, f"pof bench: oneDNN's ISA and the measured peak ({cpu})")
    native = cpu.get("bf16") == "native"
    check(native or cpu.get("bf16") == "emulated", f"this machine: bf16 {cpu.get('bf16')} (the test needs AVX-512)")
    T = ["-data_file", "tiny.h5", "-model_depth", "10", "-model_width", "1", "-model_base", "4", "-opt_batch", "32",
         "-data_train_subset", "64", "-precision", "bf16", "-run_quiet"]
    os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX512_CORE"
    try:
        p = run(1, "pretrain", *T, "-run_dir", "bf16_emul")
    finally:
        del os.environ["ONEDNN_MAX_CPU_ISA"]
    w = [l for l in p.stdout.splitlines() if "warning: -precision bf16 on a CPU without bf16 instructions" in l]
    check(len(w) == 1 and "oneDNN ISA avx512_core:" in w[0] and "x the fp32 time" in w[0],
          f"bf16 held to avx512_core: one warning with the probe's ratio ({w})")
    p = run(1, "pretrain", *T, "-run_dir", "bf16_native")
    check(not native or "warning" not in p.stdout, "bf16 where the CPU has avx512_bf16: no warning")

    # ---- pof info: five kinds, a corrupted checkpoint, a file that is not pof's ------------------
    ck = sorted(f for f in os.listdir("pre1") if f.startswith("ckpt-"))[-1]
    for path, kind in (("tiny.h5", "dataset"), ("pre1/model.h5", "model"), (f"pre1/{ck}", "checkpoint"),
                       ("pre1", "run"), ("sw", "sweep")):
        p, o = info(path)
        errs = schema_errors(o) if o else ["no JSON line"]
        check(o is not None and o["kind"] == kind and not errs, f"pof info {path}: kind {kind}, the documented schema{': ' + '; '.join(errs) if errs else ''}")
        check(len(p.stdout.strip().splitlines()) >= 2, f"pof info {path}: a text description before the JSON line")
    check(o["lines"] == 2 and o["lines_ok"] == 2, f"pof info sw: 2 lines, both ok ({o})")
    _, o = info("pre1/model.h5")
    check(o["checksums_ok"] is True and o["architecture"] == "WRN-10-1" and o["options"].get("model_base") == 4
          and "opt_momentum" not in o["options"] and o["epochs_done"] == 1 and o["tensors"], "pof info model: architecture, options other than defaults, epochs, checksums ok")
    shutil.copy(f"pre1/{ck}", "bad.h5")
    with h5py.File("bad.h5", "r") as f:
        off = f["params"].id.get_offset()
    with open("bad.h5", "r+b") as f:
        f.seek(off + 100)
        b = f.read(1)
        f.seek(off + 100)
        f.write(bytes([b[0] ^ 0x40]))
    p, o = info("bad.h5")
    check(o is not None and o["checksums_ok"] is False and not schema_errors(o) and "corrupt" in o["checksum_error"],
          f"pof info on a checkpoint with a flipped data byte: checksums_ok false ({o and o.get('checksum_error')})")
    open("notpof.txt", "w").write("hello\n")
    for path in ("notpof.txt", "grid.txt"):
        p, o = info(path, expect=None)
        errl = [l for l in p.stdout.splitlines() + p.stderr.splitlines() if l.startswith("pof: error:")]
        check(p.returncode == 1 and len(errl) == 1 and "not a pof file" in errl[0] and o and o["status"] == "error",
              f"pof info {path}: exit 1, one error line ({errl})")
    ok_exit = failed == 0
finally:
    if ok_exit and os.environ.get("POF_TEST_KEEP") != "1":
        shutil.rmtree(W, ignore_errors=True)
    else:
        print(f"work dir kept: {W}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
