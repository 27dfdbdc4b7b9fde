#!/usr/bin/python3
"""Shared readers and writers of the analysis/ scripts (Debian's python3-numpy, -matplotlib, -h5py).

Readers are tolerant of what pof and its tools write, and fail with a message naming the file and
the missing key (AnalysisError, printed by `run_main` as "<script>: error: ..." with exit status 1):
  * JSON lines where a non-finite value is null (what pof writes) or, in files of earlier
    versions, a bare `nan`, `inf`, `-inf` token: read as float NaN / ±infinity;
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
    """Sample standard deviation over the finite values (NaN for fewer than two: undefined)."""
    v = finite(values)
    if len(v) < 2:
        return NAN
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


# ---- seed studies (analysis/study_fmnist.sh layout) ---------------------------------------------

def study_table(d):
    """Rows per seed of a study directory: DIR/eval-pretrained.log (pof eval's JSON line: test_error,
    test_loss), optional DIR/eval-pretrained-train.log (train_loss: the pretrained loss gap), and
    DIR/{sgd,pof}-SEED/metrics.jsonl (last epoch: test_error, test_loss; loss_gap and pof.kappa_mean
    where logged; epoch_seconds averaged; step_seconds = the timed training phases of an epoch without
    evaluation and checkpoint I/O, averaged: the PoF/SGD step-cost ratio). Seeds lacking either arm are skipped. Returns (rows, agg)
    with agg the mean and std rows (over the finite values)."""
    import glob
    pre = last_json_line(os.path.join(d, "eval-pretrained.log"), "test_error")
    pre_gap = NAN
    tr = os.path.join(d, "eval-pretrained-train.log")
    if os.path.exists(tr):
        t = last_json_line(tr, "train_loss")
        pre_gap = num(pre.get("test_loss")) - num(t.get("train_loss"))
    seeds = sorted({int(m.group(1)) for p in glob.glob(os.path.join(d, "pof-*"))
                    if (m := re.search(r"pof-(\d+)$", p))})
    rows = []
    for s in seeds:
        r = {"seed": s, "pretrained_error": num(pre["test_error"]), "pretrained_loss": num(pre.get("test_loss")),
             "pretrained_loss_gap": pre_gap}
        ok = True
        for arm in ("sgd", "pof"):
            mpath = os.path.join(d, f"{arm}-{s}", "metrics.jsonl")
            if not os.path.exists(mpath):
                ok = False
                break
            ms = read_jsonl(mpath, required=("test_error", "test_loss"))
            if not ms:
                ok = False
                break
            m = ms[-1]
            r[f"{arm}_error"] = num(m["test_error"])
            r[f"{arm}_loss"] = num(m["test_loss"])
            r[f"{arm}_loss_gap"] = num(m.get("loss_gap"))
            r[f"{arm}_kappa"] = num(get(m, "pof.kappa_mean"))
            r[f"{arm}_epoch_seconds"] = mean([num(x.get("epoch_seconds")) for x in ms])
            # training-step time only: every timed phase except evaluation and checkpoint I/O
            # (an epoch also holds the test pass and, with -run_gap, the clean-train pass)
            r[f"{arm}_step_seconds"] = mean([sum(num(v[1]) for k, v in (x.get("time") or {}).items()
                                                 if k not in ("eval", "checkpoint_io")) if x.get("time") else NAN
                                             for x in ms])
        if not ok:
            continue
        r["diff_error_pof_minus_sgd"] = r["pof_error"] - r["sgd_error"]
        r["diff_loss_pof_minus_sgd"] = r["pof_loss"] - r["sgd_loss"]
        r["diff_error_pof_minus_pretrained"] = r["pof_error"] - r["pretrained_error"]
        r["diff_error_sgd_minus_pretrained"] = r["sgd_error"] - r["pretrained_error"]
        r["step_cost_ratio_pof_over_sgd"] = (r["pof_step_seconds"] / r["sgd_step_seconds"]
                                              if r["sgd_step_seconds"] > 0 else NAN)
        rows.append(r)
    if not rows:
        raise AnalysisError(f"no complete seeds in {d} (need pof-SEED and sgd-SEED run directories with metrics.jsonl)")
    keys = list(rows[0].keys())
    agg = [{k: (name if k == "seed" else fn([r[k] for r in rows])) for k in keys}
           for name, fn in (("mean", mean), ("std", std))]
    return rows, agg


def epoch_ticks(ax, epochs):
    """Integer epoch ticks: every epoch when there are few, else integer locator."""
    e = sorted({int(x) for x in epochs})
    if e and len(e) <= 25:
        ax.set_xticks(e)
        ax.set_xlim(e[0] - 0.5, e[-1] + 0.5)
    else:
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
