#!/usr/bin/python3
"""Hessian spectrum and loss-landscape plots of a `pof analyze` HDF5 file.

Expected layout (every part optional, but at least one must be present):
  /classifier, /network   groups: dataset eigenvalues[k] (top Hessian eigenvalues), optional
                          residuals[k]; attributes trace, trace_se (Hutchinson estimate ± standard
                          error), optionally converged, probes
  /kappa                  dataset values[m] and optionally names[m] (strings)
  /landscape              alpha1[n1] with 1-D losses loss_<direction>[n1] (e.g. loss_random,
                          loss_pof); alpha2[n2] with loss_2d[n2, n2] (rows: first direction,
                          columns: second; the same axis for both unless alpha2_y[n2'] is given)
  file attributes         loss0, err0, ... (copied to the summary when present)
Writes into --out:
  analyze_summary.csv    per spectrum: k, λ_max, λ_min of the top k, trace, trace_se, λ_max/trace;
                         then one row per κ value
  spectrum.csv/.png      index, eigenvalue per spectrum (log scale when all are positive)
  landscape1d.csv/.png   alpha, loss per direction            (if /landscape/alpha1 exists)
  landscape2d.csv/.png   alpha, beta, loss; contour plot      (if /landscape/loss_2d exists)"""
import argparse
import os

import numpy as np

import pofplot as pp


def attr(obj, name):
    v = obj.attrs.get(name)
    if v is None:
        return pp.NAN
    return pp.num(np.asarray(v).reshape(-1)[0])


def main():
    import h5py
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="pof analyze output (HDF5)")
    ap.add_argument("--out", default=".", help="output directory (default .)")
    a = ap.parse_args()
    if not os.path.exists(a.file):
        raise pp.AnalysisError(f"{a.file} does not exist")
    try:
        f = h5py.File(a.file, "r")
    except OSError as e:
        raise pp.AnalysisError(f"{a.file} is not a readable HDF5 file: {e}") from None
    outs, summary, spectra = [], [], []
    with f:
        for name in ("classifier", "network"):
            if name not in f:
                continue
            g = f[name]
            if "eigenvalues" not in g:
                raise pp.AnalysisError(f"{a.file}: group /{name} has no dataset 'eigenvalues'")
            ev = np.asarray(g["eigenvalues"], dtype=float).reshape(-1)
            spectra.append((name, ev))
            tr = attr(g, "trace")
            summary.append({"item": name, "k": len(ev), "lambda_max": float(np.max(ev)) if len(ev) else pp.NAN,
                            "lambda_min_of_top_k": float(np.min(ev)) if len(ev) else pp.NAN,
                            "trace": tr, "trace_se": attr(g, "trace_se"),
                            "lambda_max_over_trace": (float(np.max(ev)) / tr) if len(ev) and tr else pp.NAN})
        if "kappa" in f:
            g = f["kappa"]
            if "values" not in g:
                raise pp.AnalysisError(f"{a.file}: group /kappa has no dataset 'values'")
            vals = np.asarray(g["values"], dtype=float).reshape(-1)
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in g["names"][()]] if "names" in g else \
                [f"kappa{i}" for i in range(len(vals))]
            for n, v in zip(names, vals):
                summary.append({"item": f"kappa:{n}", "value": float(v)})
        land1, land2 = [], None
        if "landscape" in f:
            g = f["landscape"]
            if "alpha1" in g:
                al = np.asarray(g["alpha1"], dtype=float).reshape(-1)
                for k in g:
                    if k.startswith("loss_") and k != "loss_2d":
                        v = np.asarray(g[k], dtype=float)
                        if v.shape != al.shape:
                            raise pp.AnalysisError(f"{a.file}: /landscape/{k} has shape {v.shape}, alpha1 has {al.shape}")
                        land1.append((k[5:], al, v))
                if not land1:
                    raise pp.AnalysisError(f"{a.file}: /landscape/alpha1 but no 1-D loss_<direction> dataset")
            if "loss_2d" in g:
                if "alpha2" not in g:
                    raise pp.AnalysisError(f"{a.file}: /landscape/loss_2d without its axis /landscape/alpha2")
                ax_ = np.asarray(g["alpha2"], dtype=float).reshape(-1)
                ay = np.asarray(g["alpha2_y"], dtype=float).reshape(-1) if "alpha2_y" in g else ax_
                z = np.asarray(g["loss_2d"], dtype=float)
                if z.shape != (len(ax_), len(ay)):
                    raise pp.AnalysisError(f"{a.file}: /landscape/loss_2d has shape {z.shape}, the axes need {(len(ax_), len(ay))}")
                land2 = (ax_, ay, z)
        fattrs = {k: attr(f, k) for k in ("loss0", "err0", "pof_gnorm") if k in f.attrs}
    if not spectra and not land1 and land2 is None and not summary:
        raise pp.AnalysisError(f"{a.file}: no /classifier, /network, /kappa or /landscape data")
    for k, v in fattrs.items():
        summary.append({"item": k, "value": v})
    outs.append(pp.write_csv(pp.out_path(a.out, "analyze_summary.csv"),
                             ["item", "k", "lambda_max", "lambda_min_of_top_k", "trace", "trace_se",
                              "lambda_max_over_trace", "value"], summary))
    if spectra:
        outs.append(pp.write_csv(pp.out_path(a.out, "spectrum.csv"), ["spectrum", "index", "eigenvalue"],
                                 [[n, i, float(x)] for n, ev in spectra for i, x in enumerate(ev)]))
        fig, axs = pp.plt.subplots(1, len(spectra), figsize=(5 * len(spectra), 4), squeeze=False)
        for (n, ev), x in zip(spectra, axs[0]):
            x.plot(range(1, len(ev) + 1), ev, "o-", ms=4)
            if len(ev) and np.all(ev > 0):
                x.set_yscale("log")
            s = next(r for r in summary if r["item"] == n)
            x.set(xlabel="index", ylabel="eigenvalue", title=f"{n} Hessian: top {len(ev)}\n"
                  f"trace {s['trace']:.4g} ± {s['trace_se']:.2g}")
            x.grid(alpha=0.3)
        outs.append(pp.save(fig, pp.out_path(a.out, "spectrum.png")))
    if land1:
        outs.append(pp.write_csv(pp.out_path(a.out, "landscape1d.csv"), ["direction", "alpha", "loss"],
                                 [[d, float(x), float(y)] for d, al, v in land1 for x, y in zip(al, v)]))
        fig, x = pp.plt.subplots(figsize=(6, 4))
        for d, al, v in land1:
            x.plot(al, v, "o-", ms=3, label=d)
        x.set(xlabel="α (step along the direction)", ylabel="loss", title="1-D loss landscape")
        x.grid(alpha=0.3)
        x.legend()
        outs.append(pp.save(fig, pp.out_path(a.out, "landscape1d.png")))
    if land2 is not None:
        ax_, ay, z = land2
        outs.append(pp.write_csv(pp.out_path(a.out, "landscape2d.csv"), ["alpha", "beta", "loss"],
                                 [[float(ax_[i]), float(ay[j]), float(z[i, j])] for i in range(len(ax_)) for j in range(len(ay))]))
        fig, x = pp.plt.subplots(figsize=(6, 5))
        zm = np.ma.masked_invalid(z.T)
        cs = x.contourf(ax_, ay, zm, levels=20, cmap="viridis")
        x.contour(ax_, ay, zm, levels=10, colors="k", linewidths=0.4)
        fig.colorbar(cs, ax=x, label="loss")
        x.set(xlabel="α (direction 1)", ylabel="β (direction 2)", title="2-D loss landscape")
        outs.append(pp.save(fig, pp.out_path(a.out, "landscape2d.png")))
    pp.report(outs)


if __name__ == "__main__":
    pp.run_main(main)
