#!/usr/bin/python3
"""Learning curves of one or more pof run directories (pretrain and/or posttrain).

Reads RUN/metrics.jsonl (one JSON object per epoch; required key: epoch; used when present:
kind, lr, train_loss, train_error, test_loss, test_error, train_clean_loss, loss_gap,
epoch_seconds, images_per_s) and writes into --out:
  curves.csv  one row per run and epoch with those columns (NaN where a key is absent)
  curves.png  loss (train solid, test dashed), test/train error, learning rate and the loss gap
              (where measured with -run_gap) over the global epoch, one colour per run
Epochs are pof's global epochs, so a pretrain directory and the posttrain directories started
from it line up on one axis."""
import argparse

import pofplot as pp

COLS = ["run", "epoch", "kind", "lr", "train_loss", "train_error", "test_loss", "test_error",
        "train_clean_loss", "loss_gap", "epoch_seconds", "images_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories")
    ap.add_argument("--labels", help="comma-separated labels, one per run (default: directory names)")
    ap.add_argument("--out", default=".", help="output directory (default .)")
    a = ap.parse_args()
    runs = pp.runs_from_args(a.runs, a.labels.split(",") if a.labels else None)
    rows = []
    for r in runs:
        for m in r.metrics:
            row = {"run": r.label, "epoch": int(m["epoch"]), "kind": m.get("kind", "")}
            for k in COLS[3:]:
                row[k] = pp.num(pp.get(m, k))
            rows.append(row)
    csv_path = pp.write_csv(pp.out_path(a.out, "curves.csv"), COLS, rows)

    fig, ax = pp.plt.subplots(2, 2, figsize=(10, 7))
    has_gap = False
    for i, r in enumerate(runs):
        c = f"C{i % 10}"
        rr = [x for x in rows if x["run"] == r.label]
        ep = [x["epoch"] for x in rr]
        ax[0, 0].plot(ep, [x["train_loss"] for x in rr], "-o", color=c, ms=3, label=f"{r.label} train")
        ax[0, 0].plot(ep, [x["test_loss"] for x in rr], "--s", color=c, ms=3, label=f"{r.label} test")
        ax[0, 1].plot(ep, [x["train_error"] for x in rr], "-o", color=c, ms=3, label=f"{r.label} train")
        ax[0, 1].plot(ep, [x["test_error"] for x in rr], "--s", color=c, ms=3, label=f"{r.label} test")
        ax[1, 0].plot(ep, [x["lr"] for x in rr], "-o", color=c, ms=3, label=r.label)
        gap = [x["loss_gap"] for x in rr]
        if pp.finite(gap):
            has_gap = True
            ax[1, 1].plot(ep, gap, "-o", color=c, ms=3, label=r.label)
    ax[0, 0].set(xlabel="epoch", ylabel="loss", title="loss (train: solid, test: dashed)")
    ax[0, 1].set(xlabel="epoch", ylabel="error %", title="error (train: solid, test: dashed)")
    ax[1, 0].set(xlabel="epoch", ylabel="learning rate", title="learning rate")
    ax[1, 1].set(xlabel="epoch", ylabel="test loss - clean train loss", title="loss gap ΔL")
    if not has_gap:
        ax[1, 1].text(0.5, 0.5, "no loss gap logged\n(run with -run_gap)", ha="center", va="center",
                      transform=ax[1, 1].transAxes)
    for x in ax.flat:
        pp.epoch_ticks(x, [row["epoch"] for row in rows])
        x.grid(alpha=0.3)
        if x.get_legend_handles_labels()[0]:
            x.legend(fontsize=7)
    png = pp.save(fig, pp.out_path(a.out, "curves.png"))
    pp.report([csv_path, png])


if __name__ == "__main__":
    pp.run_main(main)
