#!/usr/bin/python3
"""Documentation check: README.md has at most 400 lines, and every relative link in README.md and
docs/*.md resolves: the file or directory exists inside the repository, and a `#anchor` names a
heading of the target Markdown file (GitHub's slug: lower case, punctuation dropped, spaces to
'-', '-1', '-2', ... for repeated headings). Links in fenced code blocks and code spans are not
links and are skipped; absolute URLs (http:, https:, mailto:, ...) are not checked.

  tests/shell/test_doc_links.py [REPO_ROOT]      (default: the repository of this script)

Prints one line per file and per broken link, then "N passed, N failed"; exit status 0 only if
nothing failed. Needs no build: labelled fast."""
import os
import re
import sys

README_MAX_LINES = 400

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        yield n, line


def heading_text(raw):
    """Rendered text of a heading: code spans keep their content, links their text."""
    s = CODE_SPAN.sub(lambda m: m.group(2), raw)
    s = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"<[^>]+>", "", s)
    return s


def slugs(path, cache={}):
    if path not in cache:
        seen, out = {}, set()
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for _, line in prose_lines(text):
            m = HEADING.match(line)
            if not m:
                continue
            base = re.sub(r"[^\w\- ]", "", heading_text(m.group(2)).strip().lower()).replace(" ", "-")
            k = seen.get(base, 0)
            seen[base] = k + 1
            out.add(base if k == 0 else f"{base}-{k}")
        cache[path] = out
    return cache[path]


def links(text):
    for n, line in prose_lines(text):
        m = REF_DEF.match(line)
        if m:
            yield n, m.group(1)
            continue
        for lm in INLINE_LINK.finditer(CODE_SPAN.sub("", line)):
            yield n, lm.group(1)


def check_file(root, rel):
    path = os.path.join(root, rel)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    problems = []
    for n, target in links(text):
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue
        file_part, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if os.path.commonpath([os.path.abspath(dest), os.path.abspath(root)]) != os.path.abspath(root):
            problems.append(f"{rel}:{n}: link '{target}' leaves the repository")
            continue
        if not os.path.exists(dest):
            problems.append(f"{rel}:{n}: link '{target}': {os.path.relpath(dest, root)} does not exist")
            continue
        if anchor:
            if not dest.endswith(".md") or os.path.isdir(dest):
                problems.append(f"{rel}:{n}: link '{target}': an anchor into a file that is not Markdown")
            elif anchor not in slugs(dest):
                problems.append(f"{rel}:{n}: link '{target}': no heading '#{anchor}' in {os.path.relpath(dest, root)}")
    return problems


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    passed = failed = 0

    def report(ok, msg):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + msg)
        if ok:
            passed += 1
        else:
            failed += 1

    readme = os.path.join(root, "README.md")
    with open(readme, encoding="utf-8") as f:
        nlines = len(f.read().splitlines())
    report(nlines <= README_MAX_LINES, f"README.md has {nlines} lines (at most {README_MAX_LINES})")

    docs = os.path.join(root, "docs")
    files = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(docs) if f.endswith(".md")) if os.path.isdir(docs) else ["README.md"]
    report(len(files) > 1, f"docs/ holds {len(files) - 1} Markdown file(s)")
    for rel in files:
        problems = check_file(root, rel)
        for p in problems:
            print("     " + p)
        report(not problems, f"{rel}: every relative link resolves" if not problems else f"{rel}: {len(problems)} broken link(s)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
