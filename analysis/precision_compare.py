#!/usr/bin/python3
"""bf16 vs fp32 training over seeds from a precision study directory (analysis/study_precision.sh).

Reads DIR/{fp32,bf16}-SEED/metrics.jsonl (last epoch: test error and loss, train loss, mean
images/s over the epochs) and DIR/{fp32,bf16}-SEED/eval-{fp32,bf16}.json (the model evaluated on
the test set in each precision). Writes a CSV with one row per seed and precision, mean and std
rows per precision, and the paired bf16 - fp32 difference of the test error per seed and on
average. Prints the table."""
import argparse
import glob
import os
import re

import pofplot as pp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="study directory")
    ap.add_argument("--csv", help="output CSV (default DIR/precision.csv)")
    a = ap.parse_args()
    seeds = sorted({int(m.group(1)) for p in glob.glob(os.path.join(a.dir, "*-*"))
                    if (m := re.fullmatch(r"(?:fp32|bf16)-(\d+)", os.path.basename(p))) and os.path.isdir(p)})
    if not seeds:
        raise pp.AnalysisError(f"{a.dir}: no fp32-SEED or bf16-SEED run directories")
    rows = []
    for s in seeds:
        for prec in ("fp32", "bf16"):
            d = os.path.join(a.dir, f"{prec}-{s}")
            if not os.path.isdir(d):
                raise pp.AnalysisError(f"{d} is missing (seed {s} has only one precision)")
            m = pp.read_jsonl(os.path.join(d, "metrics.jsonl"), required=("epoch", "test_error", "test_loss"))
            if not m:
                raise pp.AnalysisError(f"{d}/metrics.jsonl is empty (no finished epoch)")
            last = m[-1]
            r = {"seed": s, "precision": prec, "epochs": int(last["epoch"]),
                 "test_error": pp.num(last["test_error"]), "test_loss": pp.num(pp.get(last, "test_loss")),
                 "train_loss": pp.num(pp.get(last, "train_loss")),
                 "images_per_s": pp.mean([pp.num(pp.get(x, "images_per_s")) for x in m])}
            for ev in ("fp32", "bf16"):
                e = pp.last_json_line(os.path.join(d, f"eval-{ev}.json"), "test_error")
                r[f"eval_{ev}_error"] = pp.num(e["test_error"])
                r[f"eval_{ev}_loss"] = pp.num(pp.get(e, "test_loss"))
            rows.append(r)
    keys = ["test_error", "test_loss", "train_loss", "images_per_s", "eval_fp32_error", "eval_bf16_error", "eval_fp32_loss", "eval_bf16_loss"]
    agg = []
    for prec in ("fp32", "bf16"):
        sel = [r for r in rows if r["precision"] == prec]
        agg.append({"seed": "mean", "precision": prec, **{k: pp.mean([r[k] for r in sel]) for k in keys}})
        agg.append({"seed": "std", "precision": prec, **{k: pp.std([r[k] for r in sel]) for k in keys}})
    diffs = []
    for s in seeds:
        f, b = (next(r for r in rows if r["seed"] == s and r["precision"] == p) for p in ("fp32", "bf16"))
        diffs.append({"seed": s, "precision": "bf16-fp32", "test_error": b["test_error"] - f["test_error"],
                      "test_loss": b["test_loss"] - f["test_loss"], "train_loss": b["train_loss"] - f["train_loss"],
                      "images_per_s": b["images_per_s"] / f["images_per_s"] if f["images_per_s"] else pp.NAN})
    for lab, fn in (("mean", pp.mean), ("std", pp.std)):
        diffs.append({"seed": lab, "precision": "bf16-fp32", **{k: fn([d[k] for d in diffs[:len(seeds)]]) for k in ("test_error", "test_loss", "train_loss", "images_per_s")}})
    header = ["seed", "precision", "epochs"] + keys
    path = a.csv or os.path.join(a.dir, "precision.csv")
    pp.write_csv(path, header, rows + agg + diffs)
    print(f"{'seed':>5} {'precision':>10} {'test err %':>10} {'test loss':>10} {'train loss':>10} {'img/s':>8} {'eval fp32':>9} {'eval bf16':>9}")
    for r in rows + agg:
        print(f"{str(r['seed']):>5} {r['precision']:>10} {r['test_error']:>10.2f} {r['test_loss']:>10.4f} {r['train_loss']:>10.4f} "
              f"{r['images_per_s']:>8.1f} {r['eval_fp32_error']:>9.2f} {r['eval_bf16_error']:>9.2f}")
    for d in diffs:
        print(f"{str(d['seed']):>5} {d['precision']:>10} {d['test_error']:>+10.2f} {d['test_loss']:>+10.4f} {d['train_loss']:>+10.4f} {d['images_per_s']:>7.2f}x")
    print(f"(test error in %; bf16-fp32 rows: paired differences, img/s as the bf16/fp32 ratio; written {path})")


if __name__ == "__main__":
    pp.run_main(main)
