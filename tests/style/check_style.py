#!/usr/bin/python3
"""Two limits of the code base (issue "One table, one JSON library, one home per concern", item 6),
over src/ and include/: no function body longer than MAX_FUNC lines (from the line after its
opening brace to its closing brace), and no line longer than 100 columns (.clang-format's
ColumnLimit; clang-format may leave a longer line when it cannot break it: a string literal, a
long comment word, so such lines are listed too). Also prints the largest functions.
usage: check_style.py SOURCE_DIR        exit status 0 = within the limits."""
import glob
import os
import re
import sys

MAX_FUNC, MAX_COL = 100, 100
root = sys.argv[1]
files = sorted(glob.glob(os.path.join(root, "src", "**", "*.[ch]"), recursive=True)
               + glob.glob(os.path.join(root, "include", "**", "*.h"), recursive=True))
funcs, long_lines = [], []
head = re.compile(r"^[A-Za-z_][^;=]*\b([A-Za-z_][A-Za-z0-9_]*)\s*\([^;]*$")
for path in files:
    lines = open(path, encoding="utf-8").read().split("\n")
    rel = os.path.relpath(path, root)
    for i, l in enumerate(lines):
        if len(l) > MAX_COL:
            long_lines.append(f"{rel}:{i + 1}: {len(l)} columns")
        if l == "{" and i > 0:
            j = i - 1  # the signature may span several lines: find its first line
            while j > 0 and not head.match(lines[j]) and lines[j].startswith((" ", "\t")):
                j -= 1
            m = head.match(lines[j])
            if not m:
                continue
            end = next((k for k in range(i + 1, len(lines)) if lines[k] == "}"), None)
            if end is not None:
                funcs.append((end - i - 1, f"{rel}:{j + 1}", m.group(1)))
funcs.sort(reverse=True)
print("largest functions: " + ", ".join(f"{n} {name} ({where})" for n, where, name in funcs[:8]))
over = [f for f in funcs if f[0] > MAX_FUNC]
under60 = sum(1 for f in funcs if f[0] < 60)
print(f"{len(funcs)} functions, {under60} under 60 lines, {len(over)} over {MAX_FUNC}")
for n, where, name in over:
    print(f"FAIL {where}: {name} has {n} lines (at most {MAX_FUNC})")
for l in long_lines[:40]:
    print(f"FAIL {l} (at most {MAX_COL})")
if len(long_lines) > 40:
    print(f"... and {len(long_lines) - 40} more long lines")
bad = len(over) + len(long_lines)
print(f"{2 - (len(over) > 0) - (len(long_lines) > 0)} passed, {(len(over) > 0) + (len(long_lines) > 0)} failed")
sys.exit(1 if bad else 0)
