#!/usr/bin/python3
"""Static analysis of all of src/ (issue 29): cppcheck (--enable=warning,performance,portability) and
clang-tidy-14 with the checks of the committed .clang-tidy, over the build's
compile_commands.json. Passes with zero findings. Also checks that .clang-tidy holds exactly the
agreed check list and that src/ and include/ have at most 10 inline suppressions (NOLINT,
NOLINTNEXTLINE, cppcheck-suppress), each with its reason after the check name, and no NOLINTBEGIN.
Findings are printed one per line as "file:line: check: message". Runs clang-tidy on 2 processes.
Usage: check_static.py SOURCE_DIR BUILD_DIR"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys

CHECKS = ["-*", "clang-analyzer-*", "-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling",
          "bugprone-*", "-bugprone-easily-swappable-parameters", "cert-*", "-cert-err33-c"]
MAX_INLINE = 10
JOBS = 2

src, build = (os.path.realpath(a) for a in sys.argv[1:3])
failed = []


def fail(msg):
    failed.append(msg)
    print("FAIL " + msg, flush=True)


# ---- the committed check list
text = open(os.path.join(src, ".clang-tidy")).read()
m = re.search(r"^Checks:\s*>-?\s*\n((?:[ \t]+.*\n)+)", text, re.M) or re.search(r"^Checks:\s*'?([^'\n]*)'?", text, re.M)
got = [c.strip() for c in m.group(1).replace("\n", " ").split(",") if c.strip()] if m else []
if got != CHECKS:
    fail(f".clang-tidy: Checks is {got}, expected exactly {CHECKS}")
else:
    print("ok   .clang-tidy holds exactly the agreed checks")

# ---- inline suppressions: few, each with a reason, no NOLINTBEGIN
inline = []
for d in ("src", "include"):
    for dirpath, _, files in os.walk(os.path.join(src, d)):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            for i, line in enumerate(open(path, errors="replace"), 1):
                rel = os.path.relpath(path, src)
                if "NOLINTBEGIN" in line or "NOLINTEND" in line:
                    fail(f"{rel}:{i}: NOLINTBEGIN/NOLINTEND is not allowed")
                for s in re.finditer(r"(NOLINT(?:NEXTLINE)?)(\([^)]*\))?(.*)|cppcheck-suppress\s+(\S+)(.*)", line):
                    inline.append(f"{rel}:{i}")
                    if s.group(1):
                        check, reason = s.group(2), s.group(3)
                    else:
                        check, reason = s.group(4), s.group(5)
                    if not check or not re.search(r"[A-Za-z]{3}", reason or ""):
                        fail(f"{rel}:{i}: inline suppression without a check name and a reason: {line.strip()}")
if len(inline) > MAX_INLINE:
    fail(f"{len(inline)} inline suppressions (at most {MAX_INLINE}): {' '.join(inline)}")
else:
    print(f"ok   {len(inline)} inline suppressions (at most {MAX_INLINE})")

# ---- the translation units of src/
db = json.load(open(os.path.join(build, "compile_commands.json")))
units = sorted({os.path.realpath(e["file"]) for e in db if os.path.realpath(e["file"]).startswith(os.path.join(src, "src") + os.sep)})
on_disk = sorted(os.path.realpath(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(src, "src"))
                 for f in fs if f.endswith(".c"))
if units != on_disk:
    fail(f"compile_commands.json does not cover src/: missing {sorted(set(on_disk) - set(units))}")
print(f"     {len(units)} files of src/ in {os.path.join(build, 'compile_commands.json')}", flush=True)


def rel(p):
    return os.path.relpath(os.path.realpath(p), src)


# ---- cppcheck (its #error lines test configuration macros of system headers cppcheck does not read:
#      json.h needs jansson >= 2.14 and ckpt.c a real double PetscScalar; the compiler checks both)
cpp = subprocess.run(
    ["cppcheck", f"--project={os.path.join(build, 'compile_commands.json')}", f"--file-filter={src}/src/*",
     "--enable=warning,performance,portability", "--inline-suppr", "--quiet", f"-j{JOBS}", "--error-exitcode=0",
     f"--suppress=preprocessorErrorDirective:{src}/include/pof/json.h",
     f"--suppress=preprocessorErrorDirective:{src}/src/io/ckpt.c",
     "--template={file}:{line}: cppcheck-{id}: {message}"],
    cwd=src, capture_output=True, text=True)
cpp_findings = [ln for ln in cpp.stderr.splitlines() if re.match(r"^[^:]+:\d+: cppcheck-", ln)]
for ln in cpp_findings:
    f, rest = ln.split(":", 1)
    fail(f"{rel(f)}:{rest}")
if cpp.returncode != 0 or any(ln and not re.match(r"^[^:]+:\d+: cppcheck-", ln) for ln in cpp.stderr.splitlines()):
    fail(f"cppcheck did not run cleanly (status {cpp.returncode}): {cpp.stdout[-1000:]} {cpp.stderr[-1000:]}")
elif not cpp_findings:
    print("ok   cppcheck: no findings", flush=True)


# ---- clang-tidy, 2 files at a time
def tidy(path):
    r = subprocess.run(["clang-tidy-14", "-p", build, "--quiet", path], cwd=src, capture_output=True, text=True)
    return path, r.returncode, r.stdout, r.stderr


findings = set()
with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
    for path, rc, out, err in ex.map(tidy, units):
        for ln in out.splitlines():
            m = re.match(r"^(/[^:]+):(\d+):\d+: (warning|error): (.*) \[([^\]]+)\]$", ln)
            if m:
                findings.add(f"{rel(m.group(1))}:{m.group(2)}: {m.group(5)}: {m.group(4)}")
            elif re.match(r"^(/[^:]+):(\d+):\d+: (warning|error): ", ln):
                findings.add(f"{rel(ln.split(':')[0])}:{ln.split(':')[1]}: (no check name): {ln.split(': ', 2)[-1]}")
        if rc != 0 and not findings:
            fail(f"clang-tidy failed on {rel(path)} (status {rc}): {err[-1000:]}")
for f in sorted(findings):
    fail(f)
if not findings:
    print(f"ok   clang-tidy-14: no findings in {len(units)} files", flush=True)

print(f"{'FAILED' if failed else 'passed'}: {len(failed)} finding(s) or problem(s)")
sys.exit(1 if failed else 0)
