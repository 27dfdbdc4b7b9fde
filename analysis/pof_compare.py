#!/usr/bin/python3
"""Pretrained / +SGD / +PoF comparison over seeds from a study directory (analysis/study_fmnist.sh).

Reads DIR/eval-pretrained.log (last JSON line of pof eval), DIR/{pof,sgd}-SEED/metrics.jsonl
(last epoch) and writes a CSV with one row per seed (test error and loss of each arm, paired
PoF-SGD differences, loss gap ΔL and curvature κ per arm where logged, seconds per epoch and
the PoF/SGD step-cost ratio: the summed per-phase training time of an epoch, without the
evaluation passes and checkpoint I/O, both arms measured in the same study run), then mean and std rows. Prints the table."""
import argparse, csv, glob, json, math, os, re, statistics, sys

def last_json(path):
    return json.loads(open(path).read().strip().splitlines()[-1])

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="study directory")
    ap.add_argument("--csv", help="output CSV (default DIR/study.csv)")
    a = ap.parse_args()
    pre = last_json(os.path.join(a.dir, "eval-pretrained.log"))
    seeds = sorted({int(m.group(1)) for p in glob.glob(os.path.join(a.dir, "pof-*")) if (m := re.search(r"pof-(\d+)$", p))})
    rows = []
    for s in seeds:
        r = {"seed": s, "pretrained_error": pre["test_error"], "pretrained_loss": pre["test_loss"]}
        ok = True
        for arm in ("sgd", "pof"):
            mpath = os.path.join(a.dir, f"{arm}-{s}", "metrics.jsonl")
            if not os.path.exists(mpath):
                ok = False; break
            ms = [json.loads(l) for l in open(mpath)]
            m = ms[-1]
            r[f"{arm}_error"] = m["test_error"]; r[f"{arm}_loss"] = m["test_loss"]
            r[f"{arm}_loss_gap"] = m.get("loss_gap", float("nan"))
            r[f"{arm}_kappa"] = m.get("pof", {}).get("kappa_mean", float("nan"))
            r[f"{arm}_epoch_seconds"] = statistics.mean(x["epoch_seconds"] for x in ms)
            # training-step time only: every timed phase except evaluation and checkpoint I/O
            # (the epoch also holds the test pass and, with -run_gap, the clean-train pass)
            r[f"{arm}_step_seconds"] = statistics.mean(
                sum(v[1] for k, v in x["time"].items() if k not in ("eval", "checkpoint_io")) for x in ms)
        if not ok:
            continue
        r["diff_error_pof_minus_sgd"] = r["pof_error"] - r["sgd_error"]
        r["diff_loss_pof_minus_sgd"] = r["pof_loss"] - r["sgd_loss"]
        r["step_cost_ratio_pof_over_sgd"] = r["pof_step_seconds"] / r["sgd_step_seconds"]
        rows.append(r)
    if not rows:
        sys.exit(f"no complete seeds in {a.dir}")
    keys = list(rows[0].keys())
    agg = []
    def finite(v):  # a value not logged for an arm (e.g. κ of the SGD control) is NaN
        return [x for x in v if isinstance(x, (int, float)) and math.isfinite(x)]
    def mean(v):
        v = finite(v); return statistics.mean(v) if v else float("nan")
    def std(v):
        v = finite(v); return statistics.stdev(v) if len(v) > 1 else (0.0 if v else float("nan"))
    for name, fn in (("mean", mean), ("std", std)):
        agg.append({k: (name if k == "seed" else fn([r[k] for r in rows])) for k in keys})
    path = a.csv or os.path.join(a.dir, "study.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys); w.writeheader(); w.writerows(rows + agg)
    print(f"{'seed':>6} {'pretrained':>11} {'+SGD':>8} {'+PoF':>8} {'PoF-SGD':>8} {'gap SGD':>8} {'gap PoF':>8} {'kappa PoF':>9} {'cost':>6}")
    for r in rows + agg:
        print(f"{str(r['seed']):>6} {r['pretrained_error']:>11.2f} {r['sgd_error']:>8.2f} {r['pof_error']:>8.2f} {r['diff_error_pof_minus_sgd']:>+8.2f} "
              f"{r['sgd_loss_gap']:>8.4f} {r['pof_loss_gap']:>8.4f} {r['pof_kappa']:>9.4f} {r['step_cost_ratio_pof_over_sgd']:>6.2f}")
    print(f"(test error in %; written {path})")

if __name__ == "__main__":
    main()
