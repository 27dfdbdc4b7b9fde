#!/usr/bin/python3
"""Pretrained / +SGD / +PoF table over seeds, with paired differences, from a study directory.

Input layout (analysis/study_fmnist.sh): DIR/eval-pretrained.log (pof eval output; its last JSON
line gives test_error, test_loss), optionally DIR/eval-pretrained-train.log (eval -eval_split
train: train_loss, for the pretrained loss gap), and for every seed S both DIR/sgd-S and DIR/pof-S
run directories (last line of metrics.jsonl: test_error, test_loss; loss_gap and pof.kappa_mean
where logged). Writes into --out (default DIR):
  seeds.csv          one row per seed (every arm's error/loss/gap/κ, paired differences PoF−SGD,
                     PoF−pretrained, SGD−pretrained, the PoF/SGD epoch-time ratio), then mean, std
  seeds_summary.csv  one row per arm and per paired difference: n, mean and std of test error,
                     test loss and loss gap, and "mean ± std" text as in a paper table
  seeds.png          test error and loss per arm (bars: mean ± std, dots and lines: each seed),
                     and the paired PoF−SGD differences per seed
"""
import argparse

import pofplot as pp

ARMS = [("pretrained", "pretrained"), ("sgd", "+SGD"), ("pof", "+PoF")]


def pm(m, s, digits):
    if s != s:  # one seed: no spread to report
        return f"{m:.{digits}f} (n=1)" if m == m else ""
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="study directory")
    ap.add_argument("--out", help="output directory (default DIR)")
    a = ap.parse_args()
    out = a.out or a.dir
    rows, agg = pp.study_table(a.dir)
    keys = list(rows[0].keys())
    outs = [pp.write_csv(pp.out_path(out, "seeds.csv"), keys, rows + agg)]

    sh = ["row", "n", "test_error_mean", "test_error_std", "test_loss_mean", "test_loss_std",
          "loss_gap_mean", "loss_gap_std", "test_error", "test_loss"]
    srows = []
    series = [(label, f"{arm}_error", f"{arm}_loss", f"{arm}_loss_gap") for arm, label in ARMS] + [
        ("PoF - SGD (paired)", "diff_error_pof_minus_sgd", "diff_loss_pof_minus_sgd", None),
        ("PoF - pretrained (paired)", "diff_error_pof_minus_pretrained", None, None),
        ("SGD - pretrained (paired)", "diff_error_sgd_minus_pretrained", None, None)]
    for label, ke, kl, kg in series:
        e = [r[ke] for r in rows]
        l_ = [r[kl] for r in rows] if kl else []
        g = [r[kg] for r in rows] if kg else []
        srows.append({"row": label, "n": len(pp.finite(e)),
                      "test_error_mean": pp.mean(e), "test_error_std": pp.std(e),
                      "test_loss_mean": pp.mean(l_), "test_loss_std": pp.std(l_),
                      "loss_gap_mean": pp.mean(g), "loss_gap_std": pp.std(g),
                      "test_error": pm(pp.mean(e), pp.std(e), 2),
                      "test_loss": pm(pp.mean(l_), pp.std(l_), 4) if kl else ""})
    outs.append(pp.write_csv(pp.out_path(out, "seeds_summary.csv"), sh, srows))

    fig, ax = pp.plt.subplots(1, 3, figsize=(13, 4))
    for j, (metric, ylabel) in enumerate((("error", "test error %"), ("loss", "test loss"))):
        x = ax[j]
        for i, (arm, label) in enumerate(ARMS):
            v = [r[f"{arm}_{metric}"] for r in rows]
            x.errorbar(i + 0.12, pp.mean(v), yerr=pp.std(v) if len(v) > 1 else None, fmt="D", ms=7, color=f"C{i}", capsize=6,
                       label="mean ± std" if i == 0 else None)
            x.plot([i] * len(v), v, "k.", ms=6, label="seeds" if i == 0 else None)
        for r in rows:
            x.plot(range(len(ARMS)), [r[f"{arm}_{metric}"] for arm, _ in ARMS], "k-", lw=0.5, alpha=0.5)
        lo = min(pp.finite([r[f"{arm}_{metric}"] for r in rows for arm, _ in ARMS]) or [0])
        hi = max(pp.finite([r[f"{arm}_{metric}"] for r in rows for arm, _ in ARMS]) or [1])
        pad = 0.5 * (hi - lo) + 1e-6 * max(1.0, abs(hi))
        x.set_ylim(lo - pad, hi + pad)
        x.set_xticks(range(len(ARMS)), [l for _, l in ARMS])
        x.set(ylabel=ylabel, title=f"{ylabel} over {len(rows)} seed(s)", xlim=(-0.5, len(ARMS) - 0.5))
        x.legend(fontsize=7)
        x.grid(alpha=0.3, axis="y")
    x = ax[2]
    seeds = [r["seed"] for r in rows]
    x.bar([str(s) for s in seeds], [r["diff_error_pof_minus_sgd"] for r in rows], color="C2", alpha=0.7)
    x.axhline(0, color="k", lw=0.8)
    d = [r["diff_error_pof_minus_sgd"] for r in rows]
    x.set(xlabel="seed", ylabel="Δ test error % (PoF − SGD)",
          title=f"paired difference: {pm(pp.mean(d), pp.std(d), 2)}")
    x.grid(alpha=0.3, axis="y")
    outs.append(pp.save(fig, pp.out_path(out, "seeds.png")))
    for r in srows:
        print(f"{r['row']:<26} n={r['n']}  test error {r['test_error']:<16} test loss {r['test_loss']}")
    pp.report(outs)


if __name__ == "__main__":
    pp.run_main(main)
