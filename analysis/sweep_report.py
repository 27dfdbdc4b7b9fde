#!/usr/bin/python3
"""Report of a `pof sweep`: a table of every run and a heatmap over two chosen options.

Input: the sweep summary as JSON lines (PREFIX.jsonl) or CSV (PREFIX.csv), one record per grid
line. Expected keys: line, options (the line's option string, e.g. "-opt_lr 0.1 -pof_gamma_max 2"),
status ("ok" for a finished run; anything else is a failure), test_error, test_loss, epochs,
seconds, message; other keys are kept. Bare nan/inf and null values are read as NaN. Writes:
  sweep_table.csv    every run: line, status, one column per option found in any options string
                     (empty where a line does not set it), test_error, test_loss, epochs, seconds,
                     message; sorted by --metric (failed runs last)
  sweep_heatmap.csv  --x option value, --y option value, n ok runs, mean and min of --metric
                     (over the runs of that cell, whatever their other options), failed runs
  sweep_heatmap.png  the mean of --metric over the (--x, --y) grid; cells with no ok run are
                     blank and marked "failed" or "—"
--x/--y default to the first two options whose value varies across the lines."""
import argparse
import csv
import math
import os
import shlex

import pofplot as pp

REQUIRED = ("line", "options", "status")


def read_summary(path):
    if not os.path.exists(path):
        raise pp.AnalysisError(f"{path} does not exist")
    if path.endswith(".csv"):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        for i, r in enumerate(rows, 2):
            for k in REQUIRED:
                if k not in r:
                    raise pp.AnalysisError(f"{path}:{i}: missing column '{k}'")
        return rows
    return pp.read_jsonl(path, required=REQUIRED)


def parse_options(s, where):
    """'-a 1 -b -c x' -> {'a': '1', 'b': 'true', 'c': 'x'} (a flag without value is 'true')."""
    try:
        toks = shlex.split(s or "")
    except ValueError as e:
        raise pp.AnalysisError(f"{where}: cannot parse options '{s}': {e}") from None
    out, i = {}, 0
    while i < len(toks):
        t = toks[i]
        if not t.startswith("-") or len(t) < 2:
            raise pp.AnalysisError(f"{where}: options '{s}': expected an option name at '{t}'")
        name = t.lstrip("-")
        if i + 1 < len(toks) and not (toks[i + 1].startswith("-") and not _isnum(toks[i + 1])):
            out[name] = toks[i + 1]
            i += 2
        else:
            out[name] = "true"
            i += 1
    return out


def _isnum(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def sort_key(v):
    return (0, float(v), v) if _isnum(v) else (1, 0.0, v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary", help="sweep summary (.jsonl or .csv)")
    ap.add_argument("--x", help="option on the heatmap's x axis (name without '-')")
    ap.add_argument("--y", help="option on the heatmap's y axis")
    ap.add_argument("--metric", default="test_error", help="column to report (default test_error)")
    ap.add_argument("--out", default=".", help="output directory (default .)")
    a = ap.parse_args()
    recs = read_summary(a.summary)
    if not recs:
        raise pp.AnalysisError(f"{a.summary} has no runs")
    names, rows = [], []
    for i, r in enumerate(recs):
        opts = parse_options(r.get("options"), f"{a.summary} line {r.get('line', i + 1)}")
        for k in opts:
            if k not in names:
                names.append(k)
        ok = str(r.get("status", "")).strip().lower() == "ok"
        row = {"line": r.get("line"), "status": r.get("status"), "ok": ok, "opts": opts,
               a.metric: pp.num(r.get(a.metric))}
        for k in ("test_error", "test_loss", "epochs", "seconds"):
            row[k] = pp.num(r.get(k))
        row["message"] = r.get("message") or ""
        rows.append(row)
    if a.metric not in recs[0] and not any(a.metric in r for r in recs):
        raise pp.AnalysisError(f"{a.summary}: no column '{a.metric}' (--metric)")
    rows.sort(key=lambda r: (not r["ok"] or math.isnan(r[a.metric]), r[a.metric] if r["ok"] else 0.0))
    cols = ["line", "status"] + names + ["test_error", "test_loss", "epochs", "seconds", "message"]
    if a.metric not in cols:
        cols.insert(len(cols) - 1, a.metric)
    table = [dict(r, **r["opts"]) for r in rows]
    outs = [pp.write_csv(pp.out_path(a.out, "sweep_table.csv"), cols, table)]

    varying = [k for k in names if len({r["opts"].get(k) for r in rows}) > 1]
    x, y = a.x, a.y
    if x is None or y is None:
        rest = [k for k in varying if k not in (x, y)]
        if x is None:
            x = rest.pop(0) if rest else None
        if y is None:
            y = rest.pop(0) if rest else None
    if x is None or y is None:
        raise pp.AnalysisError(f"{a.summary}: need two options for the heatmap (--x, --y); "
                               f"options that vary: {', '.join(varying) or 'none'}")
    for k in (x, y):
        if k not in names:
            raise pp.AnalysisError(f"{a.summary}: no line sets option '-{k}' (options seen: {', '.join(names)})")
    xs = sorted({r["opts"].get(x, "") for r in rows}, key=sort_key)
    ys = sorted({r["opts"].get(y, "") for r in rows}, key=sort_key)
    cells, hrows = {}, []
    for yv in ys:
        for xv in xs:
            rr = [r for r in rows if r["opts"].get(x, "") == xv and r["opts"].get(y, "") == yv]
            good = pp.finite([r[a.metric] for r in rr if r["ok"]])
            failed = sum(1 for r in rr if not r["ok"])
            cells[(xv, yv)] = (pp.mean(good), len(good), failed, len(rr))
            hrows.append({x: xv, y: yv, "n_ok": len(good), f"{a.metric}_mean": pp.mean(good),
                          f"{a.metric}_min": min(good) if good else pp.NAN, "failed": failed})
    outs.append(pp.write_csv(pp.out_path(a.out, "sweep_heatmap.csv"),
                             [x, y, "n_ok", f"{a.metric}_mean", f"{a.metric}_min", "failed"], hrows))

    import numpy as np
    grid = np.array([[cells[(xv, yv)][0] for xv in xs] for yv in ys], dtype=float)
    fig, ax = pp.plt.subplots(figsize=(1.2 * len(xs) + 3, 0.8 * len(ys) + 2.5))
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis_r", aspect="auto", origin="lower")
    fig.colorbar(im, ax=ax, label=f"{a.metric} (mean over ok runs)")
    for j, yv in enumerate(ys):
        for i, xv in enumerate(xs):
            m, n, failed, tot = cells[(xv, yv)]
            txt = f"{m:.3g}" if n else ("failed" if failed else ("nan" if tot else "—"))
            if n and failed:
                txt += f"\n({failed} failed)"
            ax.text(i, j, txt, ha="center", va="center", fontsize=8, color="w" if n else "k")
    ax.set_xticks(range(len(xs)), [v or "(unset)" for v in xs])
    ax.set_yticks(range(len(ys)), [v or "(unset)" for v in ys])
    ax.set(xlabel=f"-{x}", ylabel=f"-{y}", title=f"sweep: {a.metric} ({sum(r['ok'] for r in rows)}/{len(rows)} runs ok)")
    outs.append(pp.save(fig, pp.out_path(a.out, "sweep_heatmap.png")))
    pp.report(outs)


if __name__ == "__main__":
    pp.run_main(main)
