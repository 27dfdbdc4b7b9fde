#!/usr/bin/python3
"""Compare two JSON-lines files of pof (metrics.jsonl or steps.jsonl) row by row, as parsed
values, with the timings removed (epoch_seconds, images_per_s, the "time" and "exchange"
objects, the "checkpoints" written since the previous row with their write times): an interrupted-and-resumed run must hold exactly the uninterrupted run's rows.
usage: compare_rows.py A B      exit status 0 = the same rows; prints the row count or the first
difference."""
import json
import sys

TIMINGS = ("epoch_seconds", "images_per_s", "time", "exchange", "checkpoints")


def rows(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except ValueError as e:
                sys.exit(f"{path}:{n}: not JSON ({e}): {line[:80]!r}")
            for k in TIMINGS:
                r.pop(k, None)
            out.append(r)
    return out


a, b = rows(sys.argv[1]), rows(sys.argv[2])
for i, (x, y) in enumerate(zip(a, b)):
    if x != y:
        keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
        sys.exit(f"row {i + 1} differs in {keys}: {[x.get(k) for k in keys]} vs {[y.get(k) for k in keys]}")
if len(a) != len(b):
    sys.exit(f"{sys.argv[1]} has {len(a)} rows, {sys.argv[2]} {len(b)}")
print(f"{len(a)} rows equal (timings removed)")
