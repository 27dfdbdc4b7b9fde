#!/usr/bin/python3
"""Helpers of bench/comm_net.sh and its comparison with the communication model.

  comm_net.py burst RATE            tbf burst bytes for a tc rate (e.g. 1gbit): 2 ms of it, >= 256 KiB
  comm_net.py recv IP PORT          receive one TCP stream; print {"link_gbit_s": ...} (first to last byte)
  comm_net.py send IP PORT RATE     send about 3 s of RATE (512 MB when "none")
  comm_net.py tag --nodes N --rate R --kind K   JSON lines on stdin, tagged, to stdout
  comm_net.py compare RUN.jsonl [--fit-rate 1gbit] [--json OUT]   the table (see compare())
"""
import argparse
import json
import math
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import comm_model  # noqa: E402


def rate_bits(r):
    """tc rate string -> bits per second (None for "none")"""
    if r == "none":
        return None
    units = {"kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "bit": 1.0}
    for u, f in units.items():
        if r.endswith(u):
            return float(r[: -len(u)]) * f
    return float(r)


def cmd_burst(a):
    print(max(262144, int(rate_bits(a.rate) / 8 * 2e-3)))


def cmd_recv(a):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.ip, a.port))
    s.listen(1)
    s.settimeout(60)
    c, _ = s.accept()
    n, t0, t1 = 0, None, None
    buf = bytearray(1 << 20)
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        now = time.perf_counter()
        if t0 is None:
            t0 = now
        n += k
        t1 = now
    print(json.dumps({"link_gbit_s": 8 * n / (t1 - t0) / 1e9 if t1 and t1 > t0 else None, "bytes": n}))


def cmd_send(a):
    bits = rate_bits(a.rate)
    total = int(min(bits / 8 * 3, 1.5e9)) if bits else 512 << 20
    s = socket.create_connection((a.ip, a.port), timeout=60)
    chunk = b"\0" * (1 << 20)
    sent = 0
    while sent < total:
        s.sendall(chunk)
        sent += len(chunk)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()


def cmd_tag(a):
    load = open("/proc/loadavg").read().split()[:3]
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        d.update({"nodes": a.nodes, "rate": a.rate, "kind": a.kind, "load": [float(x) for x in load],
                  "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        print(json.dumps(d))


def cmd_skew(a):
    """per-rank files of bench/mpi_skew.c -> the mean skew (s) of the last --steps steps"""
    ranks = [json.load(open(f)) for f in a.files]
    n = min(len(r["gather"]) for r in ranks)
    out = {}
    for key in ("wait", "gather"):
        per = []
        for k in range(n - a.steps, n):
            ts = [r[key][k] for r in ranks]
            if k < 0 or min(ts) < 0:
                continue
            m = max(ts)
            per.append(sum(m - t for t in ts) / len(ts))
        out[key + "_skew_ms"] = 1e3 * sum(per) / len(per) if per else None
        out[key + "_skew_steps"] = len(per)
    print(json.dumps(out))


def owners(n, size):
    """PETSc's default layout (VecCreateMPI, PETSC_DECIDE): ownership offsets of size ranks"""
    r = [0]
    for k in range(size):
        r.append(r[-1] + n // size + (1 if k < n % size else 0))
    return r


def buckets(n, bucket=1 << 20):
    """src/comm/shard.c: equal contiguous ranges of about `bucket` floats"""
    nb = min((n + bucket - 1) // bucket, 1024)
    return [(n * b // nb, n * (b + 1) // nb) for b in range(nb)]


def parts(bk, rng):
    """floats of bucket bk = (begin, end) owned by each rank"""
    return [max(0, min(bk[1], rng[k + 1]) - max(bk[0], rng[k])) for k in range(len(rng) - 1)]


def xfer(s1, s2, R, eta):
    """seconds to exchange s1 and s2 bytes between two nodes: while both directions carry data
    each gets eta R (bytes/s), the rest of the larger one R (a single stream's rate)"""
    lo, hi = min(s1, s2), max(s1, s2)
    return lo / (eta * R) + (hi - lo) / R


def t_last(alg, c, a, R, eta):
    """mean over ranks of the seconds from the start of a bucket's reduce-scatter to the end of
    each rank's wait for it; c = floats of the bucket per rank"""
    p = len(c)
    B = 4 * sum(c)
    if alg == "libnbc":
        # binomial reduce of the whole bucket to rank 0 (one direction per node and round), then
        # rank 0 sends each rank its part; every rank waits for that last message (even empty)
        return comm_model.lg(p) * (a + B / R) + a + 4 * (sum(c) - c[0]) / R
    t, d = [0.0] * p, 1  # recursive halving, distance doubling, with the dependencies of the steps
    while d < p:
        nt = [0.0] * p
        for r in range(p):
            q = r ^ d
            keep = [k for k in range(p) if (k & (d - 1)) == (r & (d - 1))]
            got = 4 * sum(c[k] for k in keep if (k & d) == (r & d))
            sent = 4 * sum(c[k] for k in keep if (k & d) != (r & d))
            # nothing to receive: the send goes into the socket buffers, the rank moves on
            nt[r] = t[r] + a if got == 0 else max(t[r], t[q]) + a + xfer(got, sent, R, eta)
        t, d = nt, 2 * d
    return sum(t) / p


def groups(rows):
    g = {}
    for d in rows:
        g.setdefault((d["rate"], d["nodes"]), []).append(d)
    return g


def fit_link(rows, p):
    """from comm_bench rows at p ranks: (a, b) = the latency per message step, the median over the
    messages of at most 512 B of every timed collective of seconds / its message steps (under this
    host's load a single collective's small messages swing by 10x), and the allgather's per-link
    seconds per byte (least squares over the messages of 64 KiB and more)"""
    cb = [d for d in rows if d["kind"] == "comm_bench"]
    pts = [(d["bytes"], d["seconds"]) for d in cb if d["op"] == "allgather"]
    big = [q for q in pts if q[0] >= 65536]
    if len({q[0] for q in big}) < 2:
        sys.exit(f"comm_net: need comm_bench allgather points of 64 KiB and more at {p} ranks (-max)")
    _, beta = comm_model.fit(big)
    ops = ("allgather", "allreduce", "ireduce_scatter", "rh_reduce_scatter")
    lat = sorted(d["seconds"] / comm_model.steps(d["op"], p) for d in cb if d["op"] in ops and d["bytes"] <= 512)
    return lat[len(lat) // 2], beta / comm_model.share("allgather", p)


def predict(p, pb, sk, a, R, eta):
    """(grad_wait, param_gather) in seconds: the model of docs/design.md before (v0: libnbc's
    formula for a 4 MiB bucket with equal parts, the ring allgather, one link rate R for every
    transfer, no imbalance) and the corrected one (v1: pof's last bucket with its real parts by the
    algorithm that ran, each rank's own wait, eta R per direction where both carry data, plus the
    measured rank imbalance at each wait)"""
    n = pb["params"]
    S = 4 * n
    b = 1 / R
    v0 = (comm_model.model_time("ireduce_scatter", p, 4 << 20, a, b), comm_model.model_time("allgather", p, S, a, b))
    c = parts(buckets(n)[0], owners(n, p))
    t_ag = (p - 1) * (a + S / p / (eta * R))
    v1 = (sk["wait_skew_ms"] / 1e3 + t_last(pb["alg"], c, a, R, eta), sk["gather_skew_ms"] / 1e3 + t_ag)
    return v0, v1


def cmd_compare(a):
    """The table: per link rate, nodes and exchange, measured grad_wait / param_gather per step (pof
    bench, mean over ranks) against the model (predict). R at every rate is the single-stream rate
    measured there; fitted at --fit-rate only: the latency a per message step (comm_bench's
    small messages, fit_link) and eta = the per-direction rate / R when both directions carry data. The other
    rates are predictions from parameters not fitted on them. eta is fitted on pof's own
    param_gather at --fit-rate (comm_bench's allgather gives a lower one, printed too)."""
    rows = [json.loads(l) for l in open(a.run) if l.strip().startswith("{")]
    g = groups(rows)
    eta, alat, eta_cb = {}, {}, {}
    for (rate, p), rs in g.items():
        if rate != a.fit_rate:
            continue
        R = [d for d in rs if d["kind"] == "link"][0]["link_gbit_s"] * 1e9 / 8
        al, b = fit_link(rs, p)
        alat[p], eta_cb[p] = al, (1 / b) / R
        # eta from pof's own parameter gathers at this rate (both exchange runs):
        # measured - imbalance = (p-1) (a + S/p / (eta R))
        es = []
        for alg in ("libnbc", "rh"):
            pbs = [d for d in rs if d["kind"] == "pof_bench_" + alg]
            sks = [d for d in rs if d["kind"] == "skew_" + alg]
            if pbs and sks:
                t = (pbs[-1]["exchange"]["param_gather_ms"] - sks[-1]["gather_skew_ms"]) / 1e3 / (p - 1) - al
                es.append(4 * pbs[-1]["params"] / p / (t * R))
        eta[p] = sum(es) / len(es) if es else eta_cb[p]
    if not eta:
        sys.exit(f"comm_net: no rows at the fit rate {a.fit_rate}")
    out = []
    hdr = ("rate", "nodes", "exchange", "link Gbit/s", "ag-fit Gbit/s", "grad_wait meas", "v0", "v1", "err v1",
           "param_gather meas", "v0", "v1", "err v1", "skew w/g", "open", "load")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for (rate, p), rs in sorted(g.items(), key=lambda kv: (kv[0][1], rate_bits(kv[0][0]) or 1e12)):
        link = [d for d in rs if d["kind"] == "link"][0]["link_gbit_s"]
        e = eta.get(p, sum(eta.values()) / len(eta))
        al = alat.get(p, sum(alat.values()) / len(alat))
        R = link * 1e9 / 8
        try:
            _, bfit = fit_link(rs, p)
            agfit = 8 / bfit / 1e9
        except (ZeroDivisionError, TypeError):
            agfit = float("nan")
        for alg in ("libnbc", "rh"):
            pbs = [d for d in rs if d["kind"] == "pof_bench_" + alg]
            sks = [d for d in rs if d["kind"] == "skew_" + alg]
            if not pbs or not sks:
                continue
            pb, sk = dict(pbs[-1]), sks[-1]
            pb["alg"] = alg
            v0, v1 = [[1e3 * t for t in v] for v in predict(p, pb, sk, al, R, e)]
            x = pb["exchange"]
            gw, pg = x["grad_wait_ms"], x["param_gather_ms"]
            r = {"rate": rate, "nodes": p, "exchange": alg, "link_gbit_s": link, "allgather_fit_gbit_s": agfit,
                 "grad_wait_ms": gw, "grad_wait_v0_ms": v0[0], "grad_wait_v1_ms": v1[0],
                 "grad_wait_err": (v1[0] - gw) / gw, "param_gather_ms": pg, "param_gather_v0_ms": v0[1],
                 "param_gather_v1_ms": v1[1], "param_gather_err": (v1[1] - pg) / pg,
                 "wait_skew_ms": sk["wait_skew_ms"], "gather_skew_ms": sk["gather_skew_ms"],
                 "open_at_end": x["open_at_end"], "load": pb["load"][0], "fit": rate == a.fit_rate,
                 "eta": e, "a_us": al * 1e6}
            out.append(r)
            print(f"| {rate}{' (fit)' if r['fit'] else ''} | {p} | {alg} | {link:.2f} | {agfit:.2f} | {gw:.1f} | {v0[0]:.1f} | "
                  f"{v1[0]:.1f} | {100 * r['grad_wait_err']:+.0f}% | {pg:.1f} | {v0[1]:.1f} | {v1[1]:.1f} | "
                  f"{100 * r['param_gather_err']:+.0f}% | {sk['wait_skew_ms']:.1f}/{sk['gather_skew_ms']:.1f} | "
                  f"{x['open_at_end']:.2f} | {pb['load'][0]:.1f} |")
    print(f"\nfit at {a.fit_rate}: eta (per-direction share of the stream rate R when both directions"
          f" carry data) from pof's param_gather " + ", ".join(f"{p} nodes {eta[p]:.2f}" for p in sorted(eta))
          + " (comm_bench's allgather: " + ", ".join(f"{p} nodes {eta_cb[p]:.2f}" for p in sorted(eta_cb))
          + "); latency a per message step (comm_bench, every collective's messages <= 512 B) "
          + ", ".join(f"{p} nodes {alat[p] * 1e6:.0f} us" for p in sorted(alat)))
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("burst"); p.add_argument("rate"); p.set_defaults(f=cmd_burst)
    p = sub.add_parser("recv"); p.add_argument("ip"); p.add_argument("port", type=int); p.set_defaults(f=cmd_recv)
    p = sub.add_parser("send"); p.add_argument("ip"); p.add_argument("port", type=int); p.add_argument("rate")
    p.set_defaults(f=cmd_send)
    p = sub.add_parser("tag"); p.add_argument("--nodes", type=int, required=True); p.add_argument("--rate", required=True)
    p.add_argument("--kind", required=True); p.set_defaults(f=cmd_tag)
    p = sub.add_parser("skew"); p.add_argument("--steps", type=int, required=True); p.add_argument("files", nargs="+")
    p.set_defaults(f=cmd_skew)
    p = sub.add_parser("compare"); p.add_argument("run"); p.add_argument("--fit-rate", default="1gbit")
    p.add_argument("--json"); p.set_defaults(f=cmd_compare)
    a = ap.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
