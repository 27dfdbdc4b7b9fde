#!/usr/bin/python3
"""Every analysis/ script on small generated inputs of the documented shapes: the CSV files have
the expected rows, columns and values, every PNG decodes and is not blank, and bad input gives a
non-zero exit with a message naming the problem. Usage: test_scripts.py SOURCE_DIR"""
import contextlib
import csv
import io
import json
import math
import os
import runpy
import subprocess
import sys
import tempfile

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import numpy as np  # noqa: E402

A = os.path.join(sys.argv[1], "analysis")
sys.path.insert(0, A)
failed = passed = 0


def check(cond, what):
    global failed, passed
    if cond:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}")


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(script, *args, expect=0):
    """Run an analysis script's main in this process (as `script args...`: same argv, exit status,
    stdout and stderr as the command; one Python start-up for all, which matters on a loaded machine)."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = [os.path.join(A, script), *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(os.path.join(A, script), run_name="__main__")
    except SystemExit as e:
        if isinstance(e.code, str):
            err.write(e.code + "\n")
            code = 1
        else:
            code = e.code or 0
    finally:
        sys.argv = argv
    p = Result(code, out.getvalue(), err.getvalue())
    if expect is not None and p.returncode != expect:
        print(p.stdout[-2000:], p.stderr[-2000:])
        check(False, f"{script} {' '.join(args)} exits {expect}")
    return p


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def png_ok(path):
    try:
        im = mpimg.imread(path)
    except Exception as e:  # noqa: BLE001
        print(f"cannot decode {path}: {e}")
        return False
    return im.ndim == 3 and im.shape[0] > 100 and im.shape[1] > 100 and float(np.std(im[..., :3])) > 0.01


def close(a, b, tol=1e-9):
    return abs(float(a) - b) <= tol * max(1.0, abs(b))


def metrics_line(epoch, kind, pof=None, gap=None, nan_tokens=False):
    d = {"epoch": epoch, "kind": kind, "lr": 0.1 / epoch, "train_loss": 2.0 / epoch, "train_error": 50.0 / epoch,
         "test_loss": 2.2 / epoch, "test_error": 55.0 / epoch, "epoch_seconds": 3.0, "images_per_s": 100.0,
         "ranks": 2, "threads": 1,
         "time": {k: [0.1, 0.2, 0.3] for k in ("data", "forward", "backward", "comm_wait", "optimizer")}}
    if gap is not None:
        d["train_clean_loss"], d["loss_gap"] = d["test_loss"] - gap, gap
    if pof is not None:
        d["pof_mode"] = "global"
        d["pof"] = {"capped_fraction": 0.25, "rejected_fraction": 0}
        for i, q in enumerate(("L0", "eta_max", "eta_star", "gamma", "pert_norm", "kappa", "gnorm")):
            d["pof"][f"{q}_mean"], d["pof"][f"{q}_std"] = pof + i, 0.1 * (i + 1)
    s = json.dumps(d)
    if nan_tokens:  # what the C side prints for a non-finite double
        s = s.replace('"kappa_std": 0.6000000000000001', '"kappa_std": nan').replace('"train_error": 12.5', '"train_error": -inf')
    return s + "\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


with tempfile.TemporaryDirectory(prefix="pof_analysis_") as t:
    j = lambda *p: os.path.join(t, *p)  # noqa: E731
    # ---- run directories: pretrain (2 epochs), posttrain PoF (epochs 3, 4; nan/inf tokens; steps), SGD control
    write(j("pre", "metrics.jsonl"), metrics_line(1, "pretrain") + metrics_line(2, "pretrain"))
    write(j("pre", "config.json"), json.dumps({"run_epochs": 2}))
    write(j("pof", "metrics.jsonl"), metrics_line(3, "posttrain", pof=1.0, gap=0.05) + metrics_line(4, "posttrain", pof=2.0, gap=0.04, nan_tokens=True))
    write(j("pof", "steps.jsonl"), "".join(json.dumps({"epoch": 3 + s // 3, "step": s % 3, "loss": 1.0, "L0": 1.1, "eta_max": 4,
                                                       "eta_star": 1.0 + s, "gamma": 0.5, "pert_norm": 0.3, "kappa": 0.7,
                                                       "capped": 0, "rejected": 0}) + "\n" for s in range(6)))
    write(j("sgd", "metrics.jsonl"), metrics_line(3, "posttrain", gap=0.06))
    p = run("curves.py", j("pre"), j("pof"), j("sgd"), "--labels", "P,PoF,SGD", "--out", j("o"))
    r = rows(j("o", "curves.csv"))
    check(len(r) == 5 and [x["run"] for x in r] == ["P", "P", "PoF", "PoF", "SGD"], "curves.csv: one row per run and epoch")
    check(list(r[0].keys())[:8] == ["run", "epoch", "kind", "lr", "train_loss", "train_error", "test_loss", "test_error"], "curves.csv: columns")
    check(close(r[1]["test_loss"], 1.1) and r[0]["loss_gap"] == "nan" and close(r[2]["loss_gap"], 0.05), "curves.csv: values, NaN where not logged")
    check(r[3]["train_error"] == "-inf", "curves.csv: a bare -inf token in metrics.jsonl is read as -inf")
    check(png_ok(j("o", "curves.png")), "curves.png decodes and is not blank")

    p = run("pof_diag.py", j("pof"), j("sgd"), "--out", j("o"))
    r = rows(j("o", "pof_diag.csv"))
    check(len(r) == 2 and [x["epoch"] for x in r] == ["3", "4"], "pof_diag.csv: one row per PoF epoch (SGD control skipped)")
    check("SGD" not in p.stdout and "sgd has no PoF diagnostics" in p.stderr, "pof_diag.py notes the skipped control run")
    check(close(r[1]["kappa_mean"], 2.0 + 5) and r[1]["kappa_std"] == "nan" and close(r[0]["capped_fraction"], 0.25)
          and close(r[0]["loss_gap"], 0.05), "pof_diag.csv: values; bare nan read as NaN")
    check(len(r[0]) == 2 + 14 + 3, "pof_diag.csv: 19 columns")
    s = rows(j("o", "pof_steps.csv"))
    check(len(s) == 6 and [x["index"] for x in s] == [str(i) for i in range(6)] and close(s[5]["eta_star"], 6.0), "pof_steps.csv: 6 steps")
    check(png_ok(j("o", "pof_diag.png")) and png_ok(j("o", "pof_steps.png")), "pof_diag.png, pof_steps.png decode and are not blank")
    p = run("pof_diag.py", j("sgd"), "--out", j("o2"), expect=None)
    check(p.returncode == 1 and "PoF diagnostics" in p.stderr, f"pof_diag.py without PoF runs: error ({p.stderr.strip()})")
    write(j("broken", "metrics.jsonl"), '{"kind":"pretrain"}\n')
    p = run("curves.py", j("broken"), "--out", j("o2"), expect=None)
    check(p.returncode == 1 and "missing key 'epoch'" in p.stderr and "metrics.jsonl:1" in p.stderr, f"curves.py on a bad metrics line: {p.stderr.strip()}")
    p = run("curves.py", j("nonexistent"), expect=None)
    check(p.returncode == 1 and "nonexistent" in p.stderr, "curves.py on a missing directory: error naming it")

    # ---- seed study (analysis/study_fmnist.sh layout): seeds 1, 2, 3; seed 3 lacks its SGD arm
    st = j("study")
    write(os.path.join(st, "eval-pretrained.log"), 'eval: ...\n{"command":"eval","test_error":10.0,"test_loss":0.40}\n')
    write(os.path.join(st, "eval-pretrained-train.log"), '{"command":"eval","split":"train","train_error":5.0,"train_loss":0.25}\n')
    for seed, (es, ep) in {1: (9.0, 8.0), 2: (9.5, 9.0), 3: (None, 7.0)}.items():
        for arm, e in (("sgd", es), ("pof", ep)):
            if e is None:
                continue
            # timed phases: training 10 s (SGD) and 13 s (PoF); eval and checkpoint I/O are left out of the cost
            tm = {"forward": [0, 4, 0], "backward": [0, 6, 0], "eval": [0, 5, 0], "checkpoint_io": [0, 2, 0]}
            if arm == "pof":
                tm["weak_forward"] = [0, 3, 0]
            m = {"epoch": 8, "test_error": e, "test_loss": e / 20, "epoch_seconds": 10.0 if arm == "sgd" else 13.0, "loss_gap": 0.1, "time": tm}
            if arm == "pof":
                m["pof"] = {"kappa_mean": 0.5}
            write(os.path.join(st, f"{arm}-{seed}", "metrics.jsonl"), json.dumps({"epoch": 7, "test_error": 99, "test_loss": 9, "epoch_seconds": 10.0 if arm == "sgd" else 13.0, "time": tm}) + "\n" + json.dumps(m) + "\n")
    run("seeds.py", st, "--out", j("o"))
    r = rows(j("o", "seeds.csv"))
    check([x["seed"] for x in r] == ["1", "2", "mean", "std"], "seeds.csv: complete seeds 1, 2, then mean and std")
    check(close(r[0]["diff_error_pof_minus_sgd"], -1.0) and close(r[2]["diff_error_pof_minus_sgd"], -0.75)
          and close(r[3]["diff_error_pof_minus_sgd"], math.sqrt(0.125)), "seeds.csv: paired differences, mean, std")
    check(close(r[0]["pretrained_loss_gap"], 0.15) and close(r[0]["step_cost_ratio_pof_over_sgd"], 1.3) and close(r[0]["pof_kappa"], 0.5)
          and r[0]["sgd_kappa"] == "nan", "seeds.csv: pretrained gap, cost ratio, κ (NaN for SGD)")
    s = rows(j("o", "seeds_summary.csv"))
    check([x["row"] for x in s][:4] == ["pretrained", "+SGD", "+PoF", "PoF - SGD (paired)"] and s[2]["test_error"] == "8.50 ± 0.71"
          and s[3]["test_error"] == "-0.75 ± 0.35", "seeds_summary.csv: mean ± std rows")
    check(png_ok(j("o", "seeds.png")), "seeds.png decodes and is not blank")
    run("pof_compare.py", st, "--csv", j("o", "study.csv"))
    check(rows(j("o", "study.csv")) == r, "pof_compare.py writes the same table")
    os.remove(os.path.join(st, "eval-pretrained.log"))
    p = run("seeds.py", st, "--out", j("o"), expect=None)
    check(p.returncode == 1 and "eval-pretrained.log" in p.stderr, "seeds.py without the pretrained eval: error naming it")

    # ---- precision study (analysis/study_precision.sh's directory)
    ps = j("prec")
    for seed, (ef, eb) in ((0, (7.0, 7.5)), (1, (8.0, 7.5))):
        for prec, e in (("fp32", ef), ("bf16", eb)):
            d = os.path.join(ps, f"{prec}-{seed}")
            write(os.path.join(d, "metrics.jsonl"), "".join(json.dumps({"epoch": k, "test_error": e + 6 - k, "test_loss": e / 10,
                  "train_loss": 0.2, "images_per_s": (100.0 if prec == "fp32" else 150.0) * k}) + "\n" for k in (5, 6)))
            for ev in ("fp32", "bf16"):
                write(os.path.join(d, f"eval-{ev}.json"), json.dumps({"command": "eval", "test_error": e + (0.1 if ev != prec else 0), "test_loss": e / 10}) + "\n")
    run("precision_compare.py", ps, "--csv", j("o", "precision.csv"))
    r = rows(j("o", "precision.csv"))
    check([(x["seed"], x["precision"]) for x in r][:4] == [("0", "fp32"), ("0", "bf16"), ("1", "fp32"), ("1", "bf16")]
          and close(r[1]["test_error"], 7.5) and close(r[0]["images_per_s"], 550.0) and close(r[1]["eval_fp32_error"], 7.6),
          "precision.csv: one row per seed and precision, last-epoch error, mean img/s, cross-precision eval")
    m = {(x["seed"], x["precision"]): x for x in r}
    check(close(m[("mean", "fp32")]["test_error"], 7.5) and close(m[("std", "fp32")]["test_error"], math.sqrt(0.5))
          and close(m[("0", "bf16-fp32")]["test_error"], 0.5) and close(m[("1", "bf16-fp32")]["test_error"], -0.5)
          and close(m[("mean", "bf16-fp32")]["test_error"], 0.0) and close(m[("mean", "bf16-fp32")]["images_per_s"], 1.5),
          "precision.csv: mean/std per precision, paired bf16 - fp32 differences, speed ratio")
    os.remove(os.path.join(ps, "bf16-1", "eval-fp32.json"))
    p = run("precision_compare.py", ps, expect=None)
    check(p.returncode == 1 and "bf16-1/eval-fp32.json" in p.stderr, "precision_compare.py without an eval file: error naming it")

    # ---- sweep summary (pof sweep's JSON lines and CSV)
    recs = []
    for i, (lr, g, st_, e) in enumerate([("0.1", "1", "ok", 12.0), ("0.01", "1", "ok", 14.0), ("0.1", "2", "failed", None),
                                        ("0.01", "2", "ok", 11.0), ("0.01", "2", "ok", 13.0)], 1):
        recs.append({"line": i, "grid_line": i, "status": st_, "options": f"-opt_lr {lr} -pof_gamma_max {g} -run_epochs 2",
                     "run_dir": f"r{i}", "test_error": e, "test_loss": None if e is None else e / 10, "train_loss": None,
                     "train_error": None, "epochs": None if e is None else 2, "global_step": None, "seconds": 1.5,
                     "message": "" if e else "diverged"})
    write(j("sw.jsonl"), "".join(json.dumps(x) + "\n" for x in recs))
    run("sweep_report.py", j("sw.jsonl"), "--x", "opt_lr", "--y", "pof_gamma_max", "--out", j("o"))
    r = rows(j("o", "sweep_table.csv"))
    check(len(r) == 5 and list(r[0].keys())[:5] == ["line", "status", "opt_lr", "pof_gamma_max", "run_epochs"], "sweep_table.csv: every run, one column per option")
    check([x["line"] for x in r] == ["4", "1", "5", "2", "3"] and r[-1]["message"] == "diverged", "sweep_table.csv: sorted by test error, failed last")
    h = rows(j("o", "sweep_heatmap.csv"))
    cell = {(x["opt_lr"], x["pof_gamma_max"]): x for x in h}
    check(len(h) == 4 and close(cell[("0.01", "2")]["test_error_mean"], 12.0) and cell[("0.01", "2")]["n_ok"] == "2"
          and cell[("0.1", "2")]["failed"] == "1" and cell[("0.1", "2")]["test_error_mean"] == "nan", "sweep_heatmap.csv: cell means, failures")
    check(png_ok(j("o", "sweep_heatmap.png")), "sweep_heatmap.png decodes and is not blank")
    with open(j("sw.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(recs[0].keys()))
        w.writeheader()
        w.writerows([{k: ("" if v is None else v) for k, v in x.items()} for x in recs])
    run("sweep_report.py", j("sw.csv"), "--out", j("o3"))
    check(rows(j("o3", "sweep_heatmap.csv")) == h, "sweep_report.py reads the CSV summary too (default axes: the varying options)")
    p = run("sweep_report.py", j("sw.jsonl"), "--x", "opt_wd", "--y", "opt_lr", "--out", j("o3"), expect=None)
    check(p.returncode == 1 and "opt_wd" in p.stderr, f"sweep_report.py with an unknown option: {p.stderr.strip()}")
    write(j("sw_bad.jsonl"), '{"line":1,"status":"ok","test_error":1}\n')
    p = run("sweep_report.py", j("sw_bad.jsonl"), "--out", j("o3"), expect=None)
    check(p.returncode == 1 and "missing key 'options'" in p.stderr, "sweep_report.py on a line without options: error")

    # ---- scaling results (jobs/scaling.sbatch's JSON lines; bench ms_* phases or a time object)
    sc = [{"workload": "bench", "mode": "strong", "ranks": r_, "threads": 1, "batch": 64, "images_per_s": ips, "ms_per_step": 64000 / ips,
           "status": "ok", "ms_forward": 100 / r_, "ms_backward": 200 / r_, "ms_comm_wait": 10 * r_}
          for r_, ips in ((1, 100.0), (2, 190.0), (4, 320.0))]
    sc += [{"workload": "bench", "mode": "weak", "ranks": r_, "threads": 1, "batch": 32 * r_, "images_per_s": ips, "status": "ok",
            "time": {"forward": [1, 2, 3], "backward": 4.0}} for r_, ips in ((1, 100.0), (2, 180.0))]
    sc.append({"workload": "bench", "mode": "weak", "ranks": 4, "threads": 1, "images_per_s": None, "status": "failed", "message": "x"})
    write(j("sc.jsonl"), "".join(json.dumps(x) + "\n" for x in sc))
    run("scaling_report.py", j("sc.jsonl"), "--out", j("o"))
    r = rows(j("o", "scaling.csv"))
    check(len(r) == 5 and [(x["mode"], x["ranks"]) for x in r] == [("strong", "1"), ("strong", "2"), ("strong", "4"), ("weak", "1"), ("weak", "2")],
          "scaling.csv: ok runs grouped by mode, failed run left out")
    check(close(r[2]["speedup"], 3.2) and close(r[2]["efficiency"], 0.8) and close(r[4]["efficiency"], 0.9), "scaling.csv: speed-up and efficiency")
    check(close(r[1]["phase_forward"], 50.0) and close(r[3]["phase_forward"], 2.0) and r[0]["phase_unit"] == "ms/step"
          and r[3]["phase_unit"] == "s", "scaling.csv: per-phase times (ms_* keys, time object averages)")
    check(png_ok(j("o", "scaling.png")) and png_ok(j("o", "scaling_phases.png")), "scaling.png, scaling_phases.png decode and are not blank")
    write(j("sc_bad.jsonl"), '{"ranks":2,"images_per_s":5}\n')
    p = run("scaling_report.py", j("sc_bad.jsonl"), "--out", j("o3"), expect=None)
    check(p.returncode == 1 and "strong or weak" in p.stderr, "scaling_report.py without mode: error")

    # ---- pof analyze file
    with h5py.File(j("an.h5"), "w") as f:
        f.attrs["loss0"] = 0.3
        for name, ev in (("classifier", [5.0, 2.0, 1.0]), ("network", [40.0, 20.0, 10.0, 5.0])):
            g = f.create_group(name)
            g["eigenvalues"] = np.array(ev)
            g["residuals"] = np.zeros(len(ev))
            g.attrs["trace"], g.attrs["trace_se"] = 2 * sum(ev), 0.5
        g = f.create_group("kappa")
        g["values"] = np.array([0.4, 0.6])
        g["names"] = np.array([b"pof", b"random"], dtype="S16")
        g = f.create_group("landscape")
        a = np.linspace(-1, 1, 9)
        g["alpha1"], g["loss_random"], g["loss_pof"] = a, 0.3 + a ** 2, 0.3 + 2 * a ** 2
        b = np.linspace(-1, 1, 5)
        g["alpha2"], g["loss_2d"] = b, 0.3 + b[:, None] ** 2 + 3 * b[None, :] ** 2
    run("analyze_plots.py", j("an.h5"), "--out", j("o"))
    s = rows(j("o", "analyze_summary.csv"))
    check([x["item"] for x in s] == ["classifier", "network", "kappa:pof", "kappa:random", "loss0"], "analyze_summary.csv: rows")
    check(close(s[1]["lambda_max"], 40.0) and close(s[1]["trace"], 150.0) and close(s[1]["lambda_max_over_trace"], 40 / 150)
          and close(s[3]["value"], 0.6), "analyze_summary.csv: values")
    sp = rows(j("o", "spectrum.csv"))
    check(len(sp) == 7 and sp[3] == {"spectrum": "network", "index": "0", "eigenvalue": "40.0"}, "spectrum.csv: 3 + 4 eigenvalues")
    l1 = rows(j("o", "landscape1d.csv"))
    d1 = {(x["direction"], float(x["alpha"])): float(x["loss"]) for x in l1}
    check(len(l1) == 18 and {x["direction"] for x in l1} == {"random", "pof"} and close(d1[("random", -1.0)], 1.3)
          and close(d1[("pof", 0.5)], 0.8), "landscape1d.csv: 2 directions x 9")
    l2 = rows(j("o", "landscape2d.csv"))
    check(len(l2) == 25 and close(l2[1]["loss"], 0.3 + 1 + 3 * 0.25), "landscape2d.csv: 5 x 5 grid, row = first direction")
    check(all(png_ok(j("o", f"{n}.png")) for n in ("spectrum", "landscape1d", "landscape2d")), "spectrum/landscape PNGs decode and are not blank")
    with h5py.File(j("an_bad.h5"), "w") as f:
        f.create_group("landscape")["loss_2d"] = np.zeros((3, 3))
    p = run("analyze_plots.py", j("an_bad.h5"), "--out", j("o3"), expect=None)
    check(p.returncode == 1 and "alpha2" in p.stderr, f"analyze_plots.py: 2-D landscape without its axis: {p.stderr.strip()}")
    write(j("not.h5"), "x")
    p = run("analyze_plots.py", j("not.h5"), "--out", j("o3"), expect=None)
    check(p.returncode == 1 and "not a readable HDF5" in p.stderr, "analyze_plots.py on a non-HDF5 file: error")

    # ---- every script has --help; one real command line (shebang interpreter, exit status)
    p = subprocess.run([os.path.join(A, "curves.py"), j("nonexistent")], capture_output=True, text=True)
    check(p.returncode == 1 and "curves.py: error:" in p.stderr, "curves.py as a command: exit status 1 and one error line")
    for sc_ in ("curves.py", "pof_diag.py", "seeds.py", "pof_compare.py", "precision_compare.py", "sweep_report.py", "scaling_report.py",
                "analyze_plots.py", "torch_import.py", "torch_export.py"):
        p = run(sc_, "--help", expect=None)
        check(p.returncode == 0 and "usage:" in p.stdout, f"{sc_} --help")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
