#!/usr/bin/python3
"""The layering of src/ (DESIGN.md), checked on what the compiler produced: the undefined symbols
(nm -u) of each folder's archive and of the pof executable's own objects.
  - only io references HDF5 (H5*), only nn oneDNN (dnnl_*), only comm MPI collectives, only
    analysis SLEPc (EPS*, ST*, BV*, Slepc*);
  - a folder uses only the folders below it: core <- comm <- io ; core <- nn ;
    train (core comm io nn) ; analysis (core comm io nn train) ; app (all).
usage: check_layers.py BUILD_DIR        prints one line per check and "N passed, N failed"."""
import glob
import os
import re
import subprocess
import sys

build = sys.argv[1]
LOWER = {"core": set(), "comm": {"core"}, "io": {"core", "comm"}, "nn": {"core"},
         "train": {"core", "comm", "io", "nn"}, "analysis": {"core", "comm", "io", "nn", "train"},
         "app": {"core", "comm", "io", "nn", "train", "analysis"}}
OWNER = {"HDF5": ("io", re.compile(r"^H5")), "oneDNN": ("nn", re.compile(r"^dnnl_")),
         "SLEPc": ("analysis", re.compile(r"^(EPS|ST[A-Z]|BV[A-Z]|Slepc)")),
         "MPI collectives": ("comm", re.compile(r"^P?MPI_(Allreduce|Iallreduce|Reduce|Ireduce|Reduce_scatter(_block)?|"
                                                r"Ireduce_scatter(_block)?|Bcast|Ibcast|Barrier|Ibarrier|Allgatherv?|"
                                                r"Iallgatherv?|Gatherv?|Igatherv?|Scatterv?|Iscatterv?|Alltoall[vw]?|"
                                                r"Ialltoall[vw]?|Scan|Exscan|Comm_split|Comm_dup|Comm_create)$"))}
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what)
    passed += bool(ok)
    failed += not ok


def nm(paths, flag):
    out = subprocess.run(["nm", flag, *paths], capture_output=True, text=True, check=True).stdout
    return {l.split()[-1] for l in out.splitlines() if l.strip() and not l.endswith(":")}


def defined(paths):
    out = subprocess.run(["nm", "--defined-only", "--extern-only", *paths], capture_output=True, text=True, check=True).stdout
    return {l.split()[-1] for l in out.splitlines() if len(l.split()) == 3}


files = {l: [os.path.join(build, f"libpof_{l}.a")] for l in LOWER if l != "app"}
files["app"] = sorted(glob.glob(os.path.join(build, "CMakeFiles", "pof.dir", "src", "app", "*.o")))
for l, fs in files.items():
    if not fs or not all(os.path.exists(f) for f in fs):
        sys.exit(f"check_layers: no build output for {l} in {build} ({fs})")
undef = {l: nm(fs, "-u") for l, fs in files.items()}
defs = {l: defined(fs) for l, fs in files.items()}
for what, (owner, pat) in OWNER.items():
    users = {l: sorted(s for s in u if pat.match(s)) for l, u in undef.items()}
    check(users[owner], f"{owner} references {what} ({len(users[owner])} symbols, e.g. {users[owner][:3]})")
    others = {l: s for l, s in users.items() if l != owner and s}
    check(not others, f"only {owner} references {what}" + (f": also {others}" if others else ""))
for l, u in undef.items():
    uses = {m for m, d in defs.items() if m != l and u & d}
    bad = uses - LOWER[l]
    check(not bad, f"{l} uses only {sorted(LOWER[l]) or 'nothing of ours'}: uses {sorted(uses)}"
          + (f"; not allowed: {sorted(bad)} (e.g. {sorted(u & set().union(*(defs[b] for b in bad)))[:4]})" if bad else ""))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
