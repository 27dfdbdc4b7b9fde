#!/usr/bin/python3
"""Communication model of pof's data-parallel step: fit, then project to many nodes.

Input: JSON lines of bench/comm_bench at several rank counts (cat the runs into one file).
Each collective is modelled by the algorithm Open MPI 4.1 runs for it:
  allgather (MPI_Allgatherv, large messages), blocking reduce_scatter: a ring,
      t = (p-1) a + (p-1)/p bytes b
  ireduce_scatter (MPI_Ireduce_scatter, libnbc's nbc_ireduce_scatter.c): a binomial-tree reduce
      of the whole vector to rank 0, then a linear scatter from rank 0,
      t = (ceil(log2 p) + p-1) a + (ceil(log2 p) + (p-1)/p) bytes b
  rh_reduce_scatter (pof's gradient exchange at power-of-two p, src/comm/rh.c): recursive halving,
      t = log2(p) a + (p-1)/p bytes b (projection only; its link time is the ireduce_scatter's)
  allreduce: t = 2 ceil(log2 p) a + 2 (p-1)/p bytes b
Fit, per collective and rank count p >= 2: seconds = alpha + beta * bytes (least squares over
the messages of 64 KiB and more, where bandwidth decides; all sizes if fewer than two), and
the per-link byte time b = beta / (the bytes factor above). That alpha is set by the large
messages and swings by tens of microseconds between runs; the small-message latency lat =
median of seconds - beta * bytes over the messages of at most 512 B is printed next to it, and
the projection's a is lat / (the message steps above) at the largest rank count (the larger of
the two collectives projected). The gradient exchange is the non-blocking ireduce_scatter
(MPI_Ireduce_scatter + MPI_Wait, as src/comm/shard.c calls it); points written before
comm_bench measured it have only the blocking reduce_scatter: its ring fit then gives b_rs (and
its latency a), and the projection still uses libnbc's algorithm, which pof runs.

Projection for P nodes (one rank per node, the global batch grows with P: weak scaling), per
training step of a model with N parameters (float gradients and parameters, S = 4N bytes):
  reduce-scatter of the gradients   T_rs = t_rs(P, S)     overlapped with backward (--exchange: rh or libnbc)
  allgather of the new parameters   T_ag = t_ag(P, S)     exposed (after the update)
  BN statistics allreduces          T_bn = 2 L (2 log2 P a)        exposed (latency-bound, small)
  last bucket (B bytes, complete only at the end of backward)
                                    T_last = t_rs(P, B)
  exposed = T_ag + T_bn + max(T_last, T_rs - f t_bwd)
  efficiency = t_step / (t_step + exposed)
with t_rs, t_ag the formulas above, a the latency per message step and b_rs, b_ag the per-link
byte times of the two collectives (from the fit at the largest rank count; --alpha/--link-gbs
for an assumed interconnect, one b), t_step and t_bwd the measured 1-node step and backward
times, f the fraction of backward during which gradients can flow (buckets become ready in
reverse layer order; default 0.8), L the number of BN layers, B the gradient bucket (default
1M floats, src/comm/shard.c).

The fit on one 2-core node measures shared-memory MPI under load: it is indicative only, and an
inter-node projection must use a network's a and b (--alpha, --link-gbs).
Usage: comm_model.py points.jsonl [--params 36479194 --bn-layers 25 --t-step 3.7 --t-bwd 2.7]
       [--bucket-bytes 4194304] [--alpha 2e-6 --link-gbs 12.5] [--nodes 8,64,512]
"""
import argparse
import json
import math
import sys


def fit(points):
    """least squares seconds = a + b bytes"""
    n = len(points)
    sx = sum(p[0] for p in points); sy = sum(p[1] for p in points)
    sxx = sum(p[0] ** 2 for p in points); sxy = sum(p[0] * p[1] for p in points)
    b = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    a = (sy - b * sx) / n
    return max(a, 0.0), b


def lg(p):
    """ceil(log2 p)"""
    return max(0, math.ceil(math.log2(p)))


def steps(op, p):
    """message steps (latency terms) of the collective at p ranks"""
    if op == "rh_reduce_scatter":
        return lg(p)
    if op == "ireduce_scatter":
        return lg(p) + p - 1
    if op == "allreduce":
        return 2 * lg(p)
    return p - 1


def share(op, p):
    """bytes factor: per-link bytes moved, per byte of the full vector, on the slowest path"""
    if op == "ireduce_scatter":
        return lg(p) + (p - 1) / p
    if op == "allreduce":
        return 2 * (p - 1) / p
    return (p - 1) / p


def model_time(op, p, nbytes, a, b):
    return steps(op, p) * a + share(op, p) * nbytes * b


def small_latency(points, beta):
    """median over the messages of at most 512 B of seconds - beta * bytes (the latency), or None"""
    small = sorted(t - beta * nb for (nb, t) in points if nb <= 512)
    return max(small[len(small) // 2], 0.0) if small else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("points")
    ap.add_argument("--params", type=int, default=36479194, help="parameters (default: WRN-28-10, 10 classes)")
    ap.add_argument("--bn-layers", type=int, default=25, help="BN layers (default: WRN-28-10)")
    ap.add_argument("--t-step", type=float, default=3.7, help="1-node step seconds (default: WRN-28-10 b32 fp32, README peer table of 2026-12-02)")
    ap.add_argument("--t-bwd", type=float, default=2.7, help="1-node backward seconds")
    ap.add_argument("--overlap", type=float, default=0.8, help="fraction f of backward usable for the reduce-scatter")
    ap.add_argument("--bucket-bytes", type=float, default=4 * (1 << 20), help="gradient bucket bytes (default 1M floats)")
    ap.add_argument("--alpha", type=float, help="assumed latency per message step (s); default: the fit")
    ap.add_argument("--link-gbs", type=float, help="assumed link bandwidth (GB/s); default: the fit")
    ap.add_argument("--nodes", default="8,64,512")
    ap.add_argument("--exchange", choices=("rh", "libnbc"), default="rh",
                    help="the gradient reduce-scatter: rh = pof's (recursive halving at power-of-two node counts, libnbc's otherwise), libnbc = MPI_Ireduce_scatter always")
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.points) if l.strip().startswith("{")]
    if not rows:
        sys.exit(f"comm_model: no comm_bench JSON lines in {a.points}")
    print("fit: seconds = alpha + beta * bytes (>= 64 KiB), per-link byte time b = beta / bytes factor of the algorithm;"
          " lat = median of t - beta*bytes, <= 512 B")
    print(f"{'op':16s} {'ranks':>5s} {'alpha (us)':>11s} {'lat (us)':>9s} {'beta (ns/B)':>12s} {'b (GB/s)':>9s} {'points':>6s}")
    per_link = {}
    for op in ("ireduce_scatter", "reduce_scatter", "allgather", "allreduce"):
        for p in sorted({r["ranks"] for r in rows if r["op"] == op}):
            pts = [(r["bytes"], r["seconds"]) for r in rows if r["op"] == op and r["ranks"] == p]
            if len(pts) < 2:
                continue
            big = [q for q in pts if q[0] >= 65536]
            al, be = fit(big if len({q[0] for q in big}) >= 2 else pts)
            lat = small_latency(pts, be)
            lat_s = f"{lat * 1e6:9.2f}" if lat is not None else f"{'-':>9s}"
            if p >= 2:
                b = be / share(op, p)
                per_link[(op, p)] = (lat if lat is not None else al, b)
                print(f"{op:16s} {p:5d} {al * 1e6:11.2f} {lat_s} {be * 1e9:12.4f} {1e-9 / b:9.2f} {len(pts):6d}")
            else:
                print(f"{op:16s} {p:5d} {al * 1e6:11.2f} {lat_s} {be * 1e9:12.4f} {'-':>9s} {len(pts):6d}")
    if not per_link:
        sys.exit("comm_model: need points at 2 or more ranks to fit a per-link time")
    pmax = max(p for (_, p) in per_link)
    rs = "ireduce_scatter" if ("ireduce_scatter", pmax) in per_link else "reduce_scatter"
    ops = [op for op in (rs, "allgather") if (op, pmax) in per_link]
    if len(ops) < 2:
        sys.exit(f"comm_model: need {rs} and allgather points at {pmax} ranks")
    al_fit = max(per_link[(op, pmax)][0] / steps(op, pmax) for op in ops)
    alpha = a.alpha if a.alpha is not None else al_fit
    b_rs = 1e-9 / a.link_gbs if a.link_gbs else per_link[(rs, pmax)][1]
    b_ag = 1e-9 / a.link_gbs if a.link_gbs else per_link[("allgather", pmax)][1]
    src = "assumed" if (a.alpha is not None or a.link_gbs) else f"fit at {pmax} ranks, {' and '.join(ops)} (one node: indicative only)"
    if a.exchange == "rh":
        src += ("; the reduce-scatter projected as pof's recursive halving at power-of-two node counts"
                " (libnbc's binomial reduce + linear scatter at others)")
    else:
        src += "; the reduce-scatter projected as libnbc's binomial reduce + linear scatter"
    if rs != "ireduce_scatter" and not a.link_gbs:
        src += " with the link time of the blocking reduce_scatter's ring fit (no ireduce_scatter points)"
    S = 4 * a.params
    print(f"\nprojection ({src}): a = {alpha * 1e6:.2f} us, links {1e-9 / b_rs:.2f} (reduce-scatter) and {1e-9 / b_ag:.2f} GB/s (allgather); N = {a.params} params "
          f"(S = {S / 1e6:.1f} MB), L = {a.bn_layers} BN layers, t_step = {a.t_step} s, t_bwd = {a.t_bwd} s, f = {a.overlap}")
    print(f"{'nodes':>6s} {'T_rs (s)':>9s} {'T_ag (s)':>9s} {'T_bn (s)':>9s} {'T_last (s)':>10s} {'exposed (s)':>11s} {'exposed %':>9s} {'efficiency':>10s}")
    for P in (int(x) for x in a.nodes.split(",")):
        alg = "rh_reduce_scatter" if a.exchange == "rh" and P & (P - 1) == 0 else "ireduce_scatter"
        t_rs = model_time(alg, P, S, alpha, b_rs)
        t_ag = model_time("allgather", P, S, alpha, b_ag)
        t_bn = 2 * a.bn_layers * 2 * math.log2(P) * alpha
        t_last = model_time(alg, P, min(a.bucket_bytes, S), alpha, b_rs)
        exposed = t_ag + t_bn + max(t_last, t_rs - a.overlap * a.t_bwd)
        print(f"{P:6d} {t_rs:9.3f} {t_ag:9.3f} {t_bn:9.4f} {t_last:10.4f} {exposed:11.3f} {100 * exposed / (a.t_step + exposed):8.1f}% {a.t_step / (a.t_step + exposed):10.3f}")


if __name__ == "__main__":
    main()
