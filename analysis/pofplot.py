#!/usr/bin/python3
"""Shared readers and writers of the analysis/ scripts (Debian's python3-numpy, -matplotlib, -h5py).

Readers are tolerant of what pof and its tools write, and fail with a message naming the file and
the missing key (AnalysisError, printed by `run_main` as "<script>: error: ..." with exit status 1):
  * JSON lines with bare `nan`, `inf`, `-inf` tokens (the C side prints doubles with %g, which
    is not JSON): they are read as float NaN / ±infinity;
  * keys given as dotted paths ("pof.kappa_mean"); absent optional keys give NaN.
"""
import csv
import json
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class AnalysisError(Exception):
    """Bad or missing input; the message names the file and the problem."""


NAN = float("nan")

# a JSON string literal (kept as is) or a bare nan/inf token (made JSON-compatible for Python's json)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\w.])([-+]?)(nan|inf(?:inity)?)(?![\w.])', re.IGNORECASE)


def _fix_tokens(text):
    def sub(m):
        if m.group(2) is None:
            return m.group(0)
        if m.group(2).lower() == "nan":
            return "NaN"
        return ("-" if m.group(1) == "-" else "") + "Infinity"
    return _TOKEN.sub(sub, text)


def loads(text, where="JSON text"):
    """json.loads that also accepts bare nan/inf/-inf (as printed by C)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(_fix_tokens(text))
    except ValueError as e:
        raise AnalysisError(f"{where}: not valid JSON: {e}") from None


def read_json(path):
    if not os.path.exists(path):
        raise AnalysisError(f"{path} does not exist")
    with open(path, errors="replace") as f:
        return loads(f.read(), path)


def read_jsonl(path, required=()):
    """Every non-empty line of `path` as a dict; `required` keys (dotted paths) must be in each."""
    if not os.path.exists(path):
        raise AnalysisError(f"{path} does not exist")
    out = []
    with open(path, errors="replace") as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            d = loads(line, f"{path}:{i}")
            if not isinstance(d, dict):
                raise AnalysisError(f"{path}:{i}: expected a JSON object per line")
            for k in required:
                if not has(d, k):
                    raise AnalysisError(f"{path}:{i}: missing key '{k}'")
            out.append(d)
    return out


def last_json_line(path, key=None):
    """The last line of a log that parses as a JSON object (with `key`, if given): pof's summary line."""
    if not os.path.exists(path):
        raise AnalysisError(f"{path} does not exist")
    found = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    d = loads(line, path)
                except AnalysisError:
                    continue
                if isinstance(d, dict) and (key is None or key in d):
                    found = d
    if found is None:
        raise AnalysisError(f"{path}: no JSON summary line" + (f" with '{key}'" if key else ""))
    return found


def has(d, key):
    for part in key.split("."):
        if not isinstance(d, dict) or part not in d:
            return False
        d = d[part]
    return True


def get(d, key, default=NAN):
    """Value at dotted path `key` as it is (default if absent or null)."""
    for part in key.split("."):
        if not isinstance(d, dict) or part not in d or d[part] is None:
            return default
        d = d[part]
    return d


def num(v):
    """A number or NaN (for None, strings that are not numbers, lists: their middle element =
    the average of pof's [min, avg, max] timer triples)."""
    if isinstance(v, (list, tuple)):
        v = v[len(v) // 2] if v else None
    if isinstance(v, bool):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return NAN


def finite(values):
    return [float(x) for x in values if isinstance(x, (int, float)) and math.isfinite(x)]


def mean(values):
    v = finite(values)
    return sum(v) / len(v) if v else NAN


def std(values):
    """Sample standard deviation over the finite values (0 for one value, NaN for none)."""
    v = finite(values)
    if len(v) < 2:
        return 0.0 if v else NAN
    m = sum(v) / len(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


# ---- run directories ---------------------------------------------------------------------------

class Run:
    """A pof run directory: config.json (optional), metrics.jsonl (required), steps.jsonl (optional)."""

    def __init__(self, path, label=None):
        self.path = path
        if not os.path.isdir(path):
            raise AnalysisError(f"{path} is not a directory (expected a pof run directory)")
        self.label = label or os.path.basename(os.path.normpath(path))
        cfg = os.path.join(path, "config.json")
        self.config = read_json(cfg) if os.path.exists(cfg) else {}
        self.metrics = read_jsonl(os.path.join(path, "metrics.jsonl"), required=("epoch",))
        if not self.metrics:
            raise AnalysisError(f"{os.path.join(path, 'metrics.jsonl')} is empty (no finished epoch)")
        steps = os.path.join(path, "steps.jsonl")
        self.steps = read_jsonl(steps, required=("epoch", "step")) if os.path.exists(steps) else []


def runs_from_args(paths, labels=None):
    if labels and len(labels) != len(paths):
        raise AnalysisError(f"{len(labels)} labels for {len(paths)} run directories")
    return [Run(p, labels[i] if labels else None) for i, p in enumerate(paths)]


# ---- outputs -----------------------------------------------------------------------------------

def fmt(v):
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return v


def write_csv(path, header, rows):
    """rows: dicts (missing keys are empty) or sequences in header order."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            if isinstance(r, dict):
                r = [r.get(k, "") for k in header]
            w.writerow([fmt(v) for v in r])
    return path


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def out_path(outdir, name):
    os.makedirs(outdir, exist_ok=True)
    return os.path.join(outdir, name)


def run_main(main):
    """Run main(); AnalysisError -> one 'error:' line and exit status 1."""
    try:
        main()
    except AnalysisError as e:
        sys.exit(f"{os.path.basename(sys.argv[0])}: error: {e}")


def report(paths):
    for p in paths:
        print(f"wrote {p}")
