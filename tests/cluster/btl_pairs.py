#!/usr/bin/python3
"""Check the transport Open MPI chose between every pair of ranks, from btl_base_verbose output.

usage: btl_pairs.py LOG RANKS SUBNET_PREFIX      (e.g. 10.223.5.)

Open MPI (bml r2) prints one line per sender and peer:
  [pofn1:1234] mca: bml: Using tcp btl for send to [[29980,1],3] on node pofn2
Checks: every rank reports every peer, exactly one transport each; tcp for peers on another
node, vader (shared memory) for other ranks on the same node, self for itself; every TCP connect
goes to an address in SUBNET_PREFIX (the test's own network). Prints a summary line.
"""
import re
import sys

log, nranks, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
use = re.compile(r"^\[([^:\]]+):(\d+)\] mca: bml: Using (\w+) btl for send to \[\[\d+,\d+\],(\d+)\] on node (\S+)")
conn = re.compile(r"btl: tcp: attempting to connect\(\) to \[\[\d+,\d+\],\d+\] address (\S+) on port")
lines = open(log, errors="replace").read().splitlines()
by_proc = {}  # (host, pid) -> {peer: (btl, peer_host)}
for l in lines:
    m = use.match(l)
    if m:
        host, pid, btl, peer, phost = m.group(1), m.group(2), m.group(3), int(m.group(4)), m.group(5)
        d = by_proc.setdefault((host, pid), {})
        assert peer not in d or d[peer] == (btl, phost), f"two transports for {host}:{pid} -> {peer}: {d[peer]} and {btl}"
        d[peer] = (btl, phost)
ranks = {}
for (host, pid), d in by_proc.items():
    me = [p for p, (b, h) in d.items() if b == "self"]
    assert len(me) == 1, f"{host}:{pid} has {len(me)} self entries"
    ranks[me[0]] = (host, d)
assert sorted(ranks) == list(range(nranks)), f"ranks seen: {sorted(ranks)}, want 0..{nranks - 1}"
count = {"tcp": 0, "vader": 0, "self": 0}
for r, (host, d) in ranks.items():
    assert sorted(d) == list(range(nranks)), f"rank {r} reports peers {sorted(d)}"
    for p, (btl, phost) in d.items():
        assert phost == ranks[p][0], f"rank {r} places rank {p} on {phost}, rank {p} says {ranks[p][0]}"
        want = "self" if p == r else ("vader" if phost == host else "tcp")
        assert btl == want, f"rank {r} on {host} -> rank {p} on {phost}: {btl}, want {want}"
        count[btl] += 1
addrs = [m.group(1) for m in map(conn.search, lines) if m]
assert count["tcp"] == 0 or addrs, "TCP pairs but no connect() line"
bad = [a for a in addrs if not a.startswith(prefix)]
assert not bad, f"TCP connections outside the test network {prefix}*: {bad}"
nodes = sorted({h for h, _ in ranks.values()})
print(f"{nranks} ranks on {len(nodes)} nodes ({', '.join(nodes)}): {count['tcp']} pairs over tcp "
      f"(all {len(addrs)} connects to {prefix}*), {count['vader']} over vader, {count['self']} self")
