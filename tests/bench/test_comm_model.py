#!/usr/bin/python3
"""bench/comm_model.py on synthetic comm_bench points with known latency and bandwidth.

Points follow seconds = lat + beta * bytes exactly, plus one slow 8-byte call per collective
(the median small-message latency must ignore it), so the script must
recover each per-link bandwidth and latency under the algorithm Open MPI runs for each
collective, prefer ireduce_scatter over the blocking reduce_scatter, and print the projection of
its docstring's formulas, recomputed here.
Usage: test_comm_model.py SOURCE_DIR
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

src = sys.argv[1]
script = os.path.join(src, "bench", "comm_model.py")
sizes = [8 * 4 ** k for k in range(11)]  # 8 B .. 8 MiB, as comm_bench
# per (op, ranks): latency (s) and per-link GB/s
truth = {
    ("ireduce_scatter", 2): (2e-6, 3.0), ("ireduce_scatter", 4): (12e-6, 1.5),
    ("reduce_scatter", 2): (2e-6, 1.0), ("reduce_scatter", 4): (12e-6, 0.5),
    ("allgather", 2): (1e-6, 20.0), ("allgather", 4): (9e-6, 6.0),
    ("allreduce", 2): (1e-6, 6.0), ("allreduce", 4): (9e-6, 3.0),
}
fails = []


def share(op, p):
    """bytes on the slowest link per byte of the vector: libnbc's ireduce_scatter is a binomial
    reduce of the whole vector to rank 0 (ceil(log2 p) rounds) and a linear scatter from it;
    allgather and the blocking reduce_scatter are rings; allreduce moves 2(p-1)/p"""
    lg = math.ceil(math.log2(p))
    return {"ireduce_scatter": lg + (p - 1) / p, "allreduce": 2 * (p - 1) / p}.get(op, (p - 1) / p)


def steps(op, p):
    lg = math.ceil(math.log2(p))
    return {"ireduce_scatter": lg + p - 1, "allreduce": 2 * lg, "rh_reduce_scatter": lg}.get(op, p - 1)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


with tempfile.TemporaryDirectory() as d:
    pts = os.path.join(d, "points.jsonl")
    with open(pts, "w") as f:
        for (op, p), (lat, gbs) in truth.items():
            beta = share(op, p) * 1e-9 / gbs
            for nb in sizes:
                f.write(json.dumps({"op": op, "ranks": p, "bytes": nb, "seconds": lat + beta * nb}) + "\n")
            # a slow first call, as comm_bench sees at 8 B: the median latency must ignore it
            f.write(json.dumps({"op": op, "ranks": p, "bytes": 8, "seconds": lat + 1e-4}) + "\n")
        f.write("not json: a stray line\n")
    out = subprocess.run([script, pts, "--t-step", "2.0", "--t-bwd", "1.5", "--nodes", "8,64"],
                         capture_output=True, text=True, timeout=60)
    print(out.stdout + out.stderr)
    check(out.returncode == 0, "comm_model.py exits 0")
    rows = {}
    for line in out.stdout.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([-\d.]+)\s+([\d.]+)\s+(\d+)$", line)
        if m:
            rows[(m.group(1), int(m.group(2)))] = (float(m.group(4)), float(m.group(6)))
    for key, (lat, gbs) in truth.items():
        got = rows.get(key)
        check(got is not None and abs(got[0] - lat * 1e6) < 0.011 and abs(got[1] - gbs) < 0.011 * gbs,
              f"{key}: latency {lat * 1e6} us, {gbs} GB/s per link (got {got})")
    # the projection: a from the 4-rank latencies per message step, b from ireduce_scatter and allgather
    a = max(12e-6 / steps("ireduce_scatter", 4), 9e-6 / steps("allgather", 4))
    b_rs, b_ag = 1e-9 / 1.5, 1e-9 / 6.0
    S, L, B = 4 * 36479194, 25, 4 * (1 << 20)
    m = re.search(r"a = ([\d.]+) us, links ([\d.]+) \(reduce-scatter\) and ([\d.]+) GB/s", out.stdout)
    check(m is not None and abs(float(m.group(1)) - a * 1e6) < 0.01 and m.group(2) == "1.50" and m.group(3) == "6.00",
          f"projection inputs a = {a * 1e6:.2f} us, links 1.50 and 6.00 GB/s (ireduce_scatter, not reduce_scatter)")
    check("pof's recursive halving" in out.stdout and "blocking reduce_scatter's ring" not in out.stdout,
          "the projection names pof's recursive halving")
    outn = subprocess.run([script, pts, "--t-step", "2.0", "--t-bwd", "1.5", "--nodes", "8,64", "--exchange", "libnbc"],
                          capture_output=True, text=True, timeout=60)
    check("libnbc's binomial reduce + linear scatter" in outn.stdout and "recursive halving" not in outn.stdout,
          "--exchange libnbc: the projection names libnbc's algorithm")
    for o, exch in ((out, "rh"), (outn, "libnbc")):
        for P in (8, 64):
            lg = math.ceil(math.log2(P))
            if exch == "rh":  # recursive halving: log2 P steps, (P-1)/P of the bytes
                t_rs = lg * a + (P - 1) / P * S * b_rs
                t_last = lg * a + (P - 1) / P * B * b_rs
            else:
                t_rs = (lg + P - 1) * a + (lg + (P - 1) / P) * S * b_rs
                t_last = (lg + P - 1) * a + (lg + (P - 1) / P) * B * b_rs
            t_ag = (P - 1) * a + (P - 1) / P * S * b_ag
            t_bn = 2 * L * 2 * math.log2(P) * a
            exposed = t_ag + t_bn + max(t_last, t_rs - 0.8 * 1.5)
            eff = 2.0 / (2.0 + exposed)
            line = next((l for l in o.stdout.splitlines() if re.match(rf"^\s+{P}\s", l)), "")
            f = line.split()
            check(len(f) == 8 and abs(float(f[1]) - t_rs) < 0.0011 and abs(float(f[5]) - exposed) < 0.0011
                  and abs(float(f[7]) - eff) < 0.0011,
                  f"{exch}, {P} nodes: T_rs {t_rs:.4f} s, exposed {exposed:.4f} s, efficiency {eff:.4f} (line: {line.strip()})")
    # an assumed network overrides both links
    out2 = subprocess.run([script, pts, "--alpha", "2e-6", "--link-gbs", "12.5", "--nodes", "8"],
                          capture_output=True, text=True, timeout=60)
    check(out2.returncode == 0 and "links 12.50 (reduce-scatter) and 12.50 GB/s" in out2.stdout,
          "--alpha/--link-gbs set both links")
    # points without the non-blocking op fall back to the blocking reduce_scatter
    old = os.path.join(d, "old.jsonl")
    with open(pts) as fi, open(old, "w") as fo:
        fo.writelines(l for l in fi if '"ireduce_scatter"' not in l)
    out3 = subprocess.run([script, old, "--nodes", "8", "--exchange", "libnbc"], capture_output=True, text=True, timeout=60)
    check(out3.returncode == 0 and "reduce_scatter and allgather" in out3.stdout
          and "links 0.50 (reduce-scatter)" in out3.stdout and "blocking reduce_scatter's ring fit" in out3.stdout,
          "old points: the link time of the blocking reduce_scatter's ring fit")
    # and the projection still runs libnbc's algorithm on it
    m3 = next((l.split() for l in out3.stdout.splitlines() if re.match(r"^\s+8\s", l)), [])
    a3 = max(12e-6 / steps("reduce_scatter", 4), 9e-6 / steps("allgather", 4))
    t_rs3 = (3 + 7) * a3 + (3 + 7 / 8) * S * (1e-9 / 0.5)
    check(len(m3) == 8 and abs(float(m3[1]) - t_rs3) < 0.0011, f"old points: T_rs at 8 nodes {t_rs3:.3f} s (libnbc's)")
    # no multi-rank points: a clear error, non-zero exit
    one = os.path.join(d, "one.jsonl")
    with open(one, "w") as f:
        f.write(json.dumps({"op": "allgather", "ranks": 1, "bytes": 8, "seconds": 1e-8}) + "\n")
        f.write(json.dumps({"op": "allgather", "ranks": 1, "bytes": 32, "seconds": 1e-8}) + "\n")
    out4 = subprocess.run([script, one], capture_output=True, text=True, timeout=60)
    check(out4.returncode != 0 and "need points at 2 or more ranks" in out4.stderr, "1-rank points only: error")

if fails:
    print(f"{len(fails)} check(s) failed")
    sys.exit(1)
print("all checks passed")
