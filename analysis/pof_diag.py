#!/usr/bin/python3
"""PoF diagnostics over epochs (and over steps where logged) of one or more posttrain run directories.

Reads RUN/metrics.jsonl: per epoch the `pof` object written by `pof posttrain` with -pof_mode
global|local (keys Q_mean and Q_std for Q in L0, eta_max, eta_star, gamma, pert_norm (‖θ̃ − θ0‖),
kappa, gnorm (‖g‖), and capped_fraction, rejected_fraction) and loss_gap (with -run_gap);
and, when present, RUN/steps.jsonl (-run_step_log: per step epoch, step, loss and error (global, over all ranks), L0, eta_max,
eta_star, gamma, pert_norm, kappa, capped, rejected). Absent keys give NaN; a run without any
`pof` object (pretraining, the -pof_mode off control) is skipped with a note. Writes into --out:
  pof_diag.csv        one row per run and epoch: Q_mean, Q_std for each Q, the fractions, loss_gap
  pof_diag.png        one panel per quantity: mean ± std band per run over the epoch
  pof_steps.csv/.png  the same per step (only if some run has steps.jsonl); x = step index
                      counted across the run's epochs
"""
import argparse
import sys

import pofplot as pp

QUANT = [("L0", "L0 (weak-batch loss at θ0)"), ("eta_max", "η_max"), ("eta_star", "η*"),
         ("gamma", "γ"), ("pert_norm", "‖θ̃ − θ0‖"), ("kappa", "κ"), ("gnorm", "‖g‖")]
STEP_KEYS = ["loss", "L0", "eta_max", "eta_star", "gamma", "pert_norm", "kappa", "capped", "rejected"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="posttrain run directories")
    ap.add_argument("--labels", help="comma-separated labels, one per run (default: directory names)")
    ap.add_argument("--out", default=".", help="output directory (default .)")
    a = ap.parse_args()
    runs = []
    for r in pp.runs_from_args(a.runs, a.labels.split(",") if a.labels else None):
        if any(isinstance(m.get("pof"), dict) for m in r.metrics):
            runs.append(r)
        else:
            print(f"note: {r.path} has no PoF diagnostics (pretraining or -pof_mode off): skipped", file=sys.stderr)
    if not runs:
        raise pp.AnalysisError("none of the run directories has PoF diagnostics (a 'pof' object in metrics.jsonl)")

    cols = ["run", "epoch"] + [f"{q}_{s}" for q, _ in QUANT for s in ("mean", "std")] + \
        ["capped_fraction", "rejected_fraction", "loss_gap"]
    rows = []
    for r in runs:
        for m in r.metrics:
            p = m.get("pof")
            if not isinstance(p, dict):
                continue
            row = {"run": r.label, "epoch": int(m["epoch"]), "loss_gap": pp.num(m.get("loss_gap"))}
            for c in cols[2:-1]:
                row[c] = pp.num(p.get(c))
            rows.append(row)
    outs = [pp.write_csv(pp.out_path(a.out, "pof_diag.csv"), cols, rows)]

    panels = QUANT + [("capped_fraction", "capped / rejected fraction"), ("loss_gap", "loss gap ΔL")]
    fig, ax = pp.plt.subplots(3, 3, figsize=(12, 9))
    for (q, title), x in zip(panels, ax.flat):
        for i, r in enumerate(runs):
            c = f"C{i % 10}"
            rr = [row for row in rows if row["run"] == r.label]
            ep = [row["epoch"] for row in rr]
            if q in ("capped_fraction", "loss_gap"):
                x.plot(ep, [row[q] for row in rr], "-o", ms=3, color=c, label=r.label if q != "capped_fraction" else f"{r.label} capped")
                if q == "capped_fraction":
                    x.plot(ep, [row["rejected_fraction"] for row in rr], "--s", ms=3, color=c, label=f"{r.label} rejected")
                continue
            mu = [row[f"{q}_mean"] for row in rr]
            sd = [row[f"{q}_std"] for row in rr]
            x.errorbar(ep, mu, yerr=sd, fmt="-o", ms=3, capsize=3, color=c, label=r.label)
            x.fill_between(ep, [u - s for u, s in zip(mu, sd)], [u + s for u, s in zip(mu, sd)], color=c, alpha=0.2)
        x.set(title=title, xlabel="epoch")
        pp.epoch_ticks(x, [row["epoch"] for row in rows])
        x.grid(alpha=0.3)
        if x.get_legend_handles_labels()[0]:
            x.legend(fontsize=7)
    fig.suptitle("PoF diagnostics per epoch (mean ± std over the epoch's steps)")
    outs.append(pp.save(fig, pp.out_path(a.out, "pof_diag.png")))

    srows = []
    for r in runs:
        for i, s in enumerate(r.steps):
            row = {"run": r.label, "index": i, "epoch": int(s["epoch"]), "step": int(s["step"])}
            for k in STEP_KEYS:
                row[k] = pp.num(s.get(k))
            srows.append(row)
    if srows:
        outs.append(pp.write_csv(pp.out_path(a.out, "pof_steps.csv"), ["run", "index", "epoch", "step"] + STEP_KEYS, srows))
        fig, ax = pp.plt.subplots(2, 4, figsize=(14, 6))
        for k, x in zip(STEP_KEYS[:7] + ["capped"], ax.flat):
            for i, r in enumerate(runs):
                rr = [row for row in srows if row["run"] == r.label]
                if rr:
                    x.plot([row["index"] for row in rr], [row[k] for row in rr], ".-", ms=2, lw=0.7, color=f"C{i % 10}", label=r.label)
            x.set(title=k, xlabel="step (across epochs)")
            x.grid(alpha=0.3)
        ax.flat[0].legend(fontsize=7)
        fig.suptitle("PoF diagnostics per step (-run_step_log)")
        outs.append(pp.save(fig, pp.out_path(a.out, "pof_steps.png")))
    pp.report(outs)


if __name__ == "__main__":
    pp.run_main(main)
