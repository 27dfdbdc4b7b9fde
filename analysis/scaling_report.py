#!/usr/bin/python3
"""Strong and weak scaling report: speed-up, efficiency and per-phase time breakdown.

Input: one or more results files with one JSON object per run (jobs/scaling.sbatch's .jsonl, or
pof bench / pretrain summary lines collected into a file). Expected keys per line:
  ranks, images_per_s                       required
  mode or kind                              "strong" or "weak" (required)
  threads (default 1), ms_per_step, batch, workload (runs group by workload, mode, threads),
  status (lines whose status is not "ok" are listed as failed and otherwise ignored)
  per-phase times, optional, either flat keys ms_<phase> (pof bench: ms_forward, ms_backward,
  ms_comm_wait, ms_optimizer, ms_weak_forward, ms_pof_range) or an object "time" or "phases"
  {phase: seconds or [min, avg, max]} (the avg is used)
Against the run with the fewest ranks of its group (the base, P0 ranks):
  strong: speed-up S = ips / ips0, efficiency = S / (P / P0)
  weak:   scaled speed-up S = ips / ips0 (per-rank work fixed), efficiency = S / (P / P0)
          (= throughput per rank relative to the base)
Writes into --out: scaling.csv (every run with speed-up, efficiency, phases), scaling.png
(speed-up with the ideal line, efficiency, per group) and scaling_phases.png (stacked time per
phase per run: ms per step when the phases are in ms, otherwise the phase share of the total)."""
import argparse

import pofplot as pp


def phases(r):
    """({phase: value}, unit): ms_<phase> keys are ms per step, a time/phases object is seconds."""
    out, unit = {}, ""
    for k, v in r.items():
        if k.startswith("ms_") and k != "ms_per_step":
            out[k[3:]] = pp.num(v)
            unit = "ms/step"
    for key in ("time", "phases"):
        if isinstance(r.get(key), dict):
            for k, v in r[key].items():
                out[k] = pp.num(v)
            unit = "s"
    return out, unit


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="results files (JSON lines)")
    ap.add_argument("--out", default=".", help="output directory (default .)")
    a = ap.parse_args()
    runs, failed = [], []
    for path in a.results:
        for i, r in enumerate(pp.read_jsonl(path, required=("ranks",)), 1):
            if str(r.get("status", "ok")).lower() != "ok":
                failed.append(r)
                continue
            mode = r.get("mode", r.get("kind"))
            if mode not in ("strong", "weak"):
                raise pp.AnalysisError(f"{path}:{i}: 'mode' (or 'kind') must be strong or weak, got {mode!r}")
            ips = pp.num(r.get("images_per_s"))
            if not ips > 0:
                raise pp.AnalysisError(f"{path}:{i}: missing or non-positive 'images_per_s'")
            runs.append({"workload": r.get("workload", ""), "mode": mode, "ranks": int(r["ranks"]),
                         "threads": int(r.get("threads", 1) or 1), "batch": pp.num(r.get("batch")),
                         "images_per_s": ips, "ms_per_step": pp.num(r.get("ms_per_step"))})
            runs[-1]["phases"], runs[-1]["phase_unit"] = phases(r)
    if not runs:
        raise pp.AnalysisError("no successful runs in " + ", ".join(a.results))
    groups = {}
    for r in runs:
        groups.setdefault((r["workload"], r["mode"], r["threads"]), []).append(r)
    pnames = []
    for r in runs:
        pnames += [p for p in r["phases"] if p not in pnames]
    rows = []
    for key in sorted(groups, key=lambda k: (str(k[0]), k[1], k[2])):
        g = sorted(groups[key], key=lambda r: r["ranks"])
        base = g[0]
        for r in g:
            s = r["images_per_s"] / base["images_per_s"]
            r["speedup"] = s
            r["efficiency"] = s / (r["ranks"] / base["ranks"])
            r["base_ranks"] = base["ranks"]
            rows.append(r)
    cols = ["workload", "mode", "threads", "ranks", "base_ranks", "batch", "images_per_s", "ms_per_step",
            "speedup", "efficiency", "phase_unit"] + [f"phase_{p}" for p in pnames]
    table = [dict(r, **{f"phase_{p}": r["phases"].get(p, pp.NAN) for p in pnames}) for r in rows]
    outs = [pp.write_csv(pp.out_path(a.out, "scaling.csv"), cols, table)]

    fig, ax = pp.plt.subplots(1, 2, figsize=(11, 4.2))
    top = 1
    for i, key in enumerate(sorted(groups, key=lambda k: (str(k[0]), k[1], k[2]))):
        g = sorted(groups[key], key=lambda r: r["ranks"])
        label = f"{key[1]}{' ' + key[0] if key[0] else ''}, {key[2]} thr/rank"
        rk = [r["ranks"] for r in g]
        ax[0].plot(rk, [r["speedup"] for r in g], "-o", color=f"C{i}", label=label)
        ax[1].plot(rk, [r["efficiency"] for r in g], "-o", color=f"C{i}", label=label)
        top = max(top, max(rk) / rk[0])
        ax[0].plot(rk, [x / rk[0] for x in rk], ":", color=f"C{i}", lw=0.8)
    ax[0].set(xlabel="ranks", ylabel="speed-up vs fewest ranks", title="speed-up (dotted: ideal)")
    ax[1].set(xlabel="ranks", ylabel="efficiency", title="parallel efficiency", ylim=(0, 1.15))
    ax[1].axhline(1, color="k", lw=0.6)
    for x in ax:
        x.grid(alpha=0.3)
        x.legend(fontsize=7)
    if failed:
        fig.suptitle(f"{len(failed)} failed run(s) not shown")
    outs.append(pp.save(fig, pp.out_path(a.out, "scaling.png")))

    fig, ax = pp.plt.subplots(figsize=(max(6, 0.6 * len(rows) + 2), 4.5))
    labels = [f"{r['mode'][0]}{r['ranks']}x{r['threads']}" + (f"\n{r['workload']}" if r["workload"] else "") for r in rows]
    if pnames:
        # shares of each run's phase total: comparable whether a run logged ms/step or seconds
        bottom = [0.0] * len(rows)
        tot = [sum(pp.finite(r["phases"].values())) or 1.0 for r in rows]
        for j, p in enumerate(pnames):
            v = [(r["phases"].get(p, 0.0) if pp.finite([r["phases"].get(p, pp.NAN)]) else 0.0) / t for r, t in zip(rows, tot)]
            ax.bar(range(len(rows)), v, bottom=bottom, color=f"C{j % 10}", label=p)
            bottom = [b + x for b, x in zip(bottom, v)]
        for i, r in enumerate(rows):
            if pp.finite([r["ms_per_step"]]):
                ax.text(i, 1.01, f"{r['ms_per_step']:.0f} ms", ha="center", va="bottom", fontsize=6)
        ax.set(ylabel="share of the phase total", ylim=(0, 1.12),
               title="phase shares (s/w: strong/weak, ranks x threads; top: ms/step)")
        ax.legend(fontsize=7, loc="lower right")
    else:
        ax.bar(range(len(rows)), [r["ms_per_step"] for r in rows], color="C0")
        ax.set(ylabel="ms per step", title="ms per step (no per-phase times in the results)")
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    outs.append(pp.save(fig, pp.out_path(a.out, "scaling_phases.png")))
    for r in rows:
        print(f"{r['mode']:>6} {r['workload'] or '-':>6} ranks {r['ranks']:>3} x {r['threads']} thr: {r['images_per_s']:9.1f} img/s  "
              f"speed-up {r['speedup']:5.2f}  efficiency {r['efficiency']:5.3f}")
    pp.report(outs)


if __name__ == "__main__":
    pp.run_main(main)
