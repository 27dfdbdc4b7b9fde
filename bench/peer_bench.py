#!/usr/bin/python3
"""Peer benchmark: the same WRN step in PyTorch and in `pof bench`, back to back.

PyTorch side: WRN-depth-width (base 16, 10 classes) on synthetic data, one process with
--torch-threads threads (default ranks x threads: the same cores pof uses). Step kinds:
  train    training-mode forward, mean CE, backward, Nesterov SGD (momentum 0.9, wd 5e-4)
  forward  eval-mode forward without grad
  pof      a PoF step as we read POF.md: weak-batch features (no grad), classifier gradient,
           bracket + grid line search, perturbed classifier, forward/backward of the main batch,
           SGD step on the feature extractor only
Each memory format (NCHW, channels_last) runs in its own child process (so its peak RSS is its
own): --warmup steps, then the median of --steps timed steps; the faster format is reported.
`--precision bf16` runs the forward passes under torch.autocast('cpu', dtype=torch.bfloat16).

pof side: `[mpiexec -n R] pof bench -model_depth D -model_width K -bench_input CxHxW
-model_classes 10 -opt_batch B -bench_step S -bench_steps N -precision P` with OMP_NUM_THREADS set
to --threads; its last stdout line must be a JSON object with at least ms_per_step, images_per_s
and peak_rss_mb. If pof fails, the reason is printed, the PyTorch result is still printed and the
exit status is 1.
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
POF_KEYS = ("ms_per_step", "images_per_s", "peak_rss_mb")


def parse_input(s):
    parts = s.lower().split("x")
    try:
        c, h, w = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input must be CxHxW, e.g. 1x28x28, got '{s}'")
    if min(c, h, w) < 1:
        raise argparse.ArgumentTypeError(f"--input dimensions must be positive, got '{s}'")
    return c, h, w


def positive(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{s}'")
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def depth_arg(s):
    d = positive(s)
    if d < 10 or (d - 4) % 6:
        raise argparse.ArgumentTypeError(f"WRN depth must be 6n+4 >= 10, got {d}")
    return d


# ---- PyTorch worker (runs in a child process) ---------------------------------------------------

def torch_worker(args, memory_format):
    """Time the step in this process; return a dict (printed as JSON by the child)."""
    import resource
    import contextlib
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "analysis"))
    import pof_torch as pt

    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)
    c, h, w = args.input
    fmt = torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
    model = pt.WRN(args.depth, args.width, 16, c, args.classes).to(memory_format=fmt)
    x = torch.randn(args.batch, c, h, w).to(memory_format=fmt)
    y = torch.randint(0, args.classes, (args.batch,))
    xw = torch.randn(args.batch, c, h, w).to(memory_format=fmt)
    yw = torch.randint(0, args.classes, (args.batch,))
    if args.precision == "bf16":
        def autocast():
            return torch.autocast("cpu", dtype=torch.bfloat16)
    else:
        autocast = contextlib.nullcontext

    if args.step == "train":
        opt = pt.make_sgd(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)

        def step():
            model.train()
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
    elif args.step == "forward":
        model.eval()

        def step():
            with torch.no_grad(), autocast():
                model(x)
    else:
        opt = pt.make_sgd(model.feature_parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        W0 = model.linear.weight.detach().clone()
        b0 = model.linear.bias.detach().clone()
        gen = torch.Generator().manual_seed(1)

        def step():
            gamma = 2.0 * float(torch.rand((), generator=gen))
            pt.pof_step(model, opt, x, y, xw, yw, gamma, W0=W0, b0=b0, autocast=autocast)

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return dict(memory_format=memory_format, ms_per_step=1e3 * med, images_per_s=args.batch / med,
                ms_min=1e3 * min(times), ms_max=1e3 * max(times),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                threads=torch.get_num_threads(), torch_version=torch.__version__)


def run_torch(args):
    """One child per memory format; the faster one is the result (both are kept)."""
    results = []
    for fmt in ("nchw", "channels_last"):
        cmd = [sys.executable, os.path.abspath(__file__), "--_worker", fmt] + args.argv
        env = dict(os.environ, OMP_NUM_THREADS=str(args.torch_threads))
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            raise SystemExit(f"peer_bench: the PyTorch {fmt} run failed (status {p.returncode})")
        results.append(json.loads(p.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"  PyTorch {fmt:13s}: {r['ms_per_step']:9.1f} ms/step (min {r['ms_min']:.1f}, "
              f"max {r['ms_max']:.1f}), {r['images_per_s']:8.1f} images/s, peak RSS {r['peak_rss_mb']:.0f} MB",
              flush=True)
    best = min(results, key=lambda r: r["ms_per_step"])
    return dict(best, all=results)


# ---- pof ---------------------------------------------------------------------------------------

def pof_command(args):
    c, h, w = args.input
    cmd = [args.pof, "bench", "-model_depth", str(args.depth), "-model_width", str(args.width),
           "-bench_input", f"{c}x{h}x{w}", "-model_classes", str(args.classes),
           "-opt_batch", str(args.batch), "-bench_step", args.step, "-bench_steps", str(args.steps),
           "-precision", args.precision] + shlex.split(args.pof_args)
    if args.ranks > 1:
        cmd = [args.mpiexec, "--oversubscribe", "-n", str(args.ranks), "-x", "OMP_NUM_THREADS"] + cmd
    return cmd


def run_pof(args):
    """Returns (result dict, None) or (None, error message)."""
    cmd = pof_command(args)
    if not (os.path.isfile(args.pof) and os.access(args.pof, os.X_OK)):
        return None, f"pof binary '{args.pof}' not found or not executable (build it, or pass --pof PATH)"
    if args.ranks > 1 and shutil.which(args.mpiexec) is None:
        return None, f"'{args.mpiexec}' not found (needed for --ranks {args.ranks})"
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HDF5_USE_FILE_LOCKING="FALSE")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    print("  " + " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=args.pof_timeout)
    except subprocess.TimeoutExpired:
        return None, f"pof bench did not finish within {args.pof_timeout} s"
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    if p.returncode != 0:
        out = p.stderr.splitlines() + lines
        msgs = [ln for ln in out if ln.startswith("pof: error")] or out[-6:]  # pof's own message first
        return None, f"pof bench exited with status {p.returncode}:\n    " + "\n    ".join(msgs)
    if not lines:
        return None, "pof bench printed nothing (expected a JSON object as its last line)"
    try:
        r = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None, f"pof bench's last line is not JSON: {lines[-1][:200]}"
    missing = [k for k in POF_KEYS if not isinstance(r.get(k) if isinstance(r, dict) else None, (int, float))]
    if missing:
        return None, f"pof bench's JSON lacks numeric {', '.join(missing)}: {lines[-1][:200]}"
    return r, None


def print_table(args, t, r):
    print()
    c, h, w = args.input
    print(f"WRN-{args.depth}-{args.width}, input {c}x{h}x{w}, batch {args.batch}, step {args.step}, "
          f"{args.precision}; pof {args.ranks} rank(s) x {args.threads} thread(s), PyTorch "
          f"{t['threads']} thread(s), {t['memory_format']}")
    print(f"{'':22s}{'PyTorch ' + t['torch_version']:>18s}{'pof':>12s}{'pof/PyTorch':>14s}")
    rows = [("images/s", "images_per_s", "{:.1f}"), ("ms/step", "ms_per_step", "{:.1f}"),
            ("peak RSS (MB)", "peak_rss_mb", "{:.0f}")]
    for label, key, f in rows:
        pv = f.format(r[key]) if r else "-"
        ratio = "{:.2f}".format(r[key] / t[key]) if r and t[key] else "-"
        print(f"{label:22s}{f.format(t[key]):>18s}{pv:>12s}{ratio:>14s}")
    best = f"{args.batch / t['ms_min'] * 1e3:.1f}"
    print(f"{'images/s (best step)':22s}{best:>18s}")
    la = t["loadavg_1min_before_after"]
    if la[0] > 0.5:  # the value after includes this benchmark itself
        print(f"note: 1-min load average {la[0]:.2f} before the PyTorch runs ({la[1]:.2f} after): other "
              f"processes were using the cores, the medians are noisy (compare the best-step figure)")
    if r and args.ranks > 1:
        print("(pof peak_rss_mb as reported by pof bench; PyTorch: one process)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pof", default=os.path.join(ROOT, "build", "pof"), help="pof binary (default: %(default)s)")
    ap.add_argument("--mpiexec", default="mpiexec", help="MPI launcher for --ranks > 1 (default: %(default)s)")
    ap.add_argument("--ranks", type=positive, default=1, help="MPI ranks for pof (default: %(default)s)")
    ap.add_argument("--threads", type=positive, default=2, help="threads per pof rank (default: %(default)s)")
    ap.add_argument("--torch-threads", type=positive, default=None,
                    help="PyTorch threads (default: ranks x threads)")
    ap.add_argument("--depth", type=depth_arg, default=16, help="WRN depth 6n+4 (default: %(default)s)")
    ap.add_argument("--width", type=positive, default=4, help="WRN widening factor (default: %(default)s)")
    ap.add_argument("--input", type=parse_input, default=(1, 28, 28), metavar="CxHxW",
                    help="input shape (default: 1x28x28)")
    ap.add_argument("--classes", type=positive, default=10, help="classes (default: %(default)s)")
    ap.add_argument("--batch", type=positive, default=128, help="global batch (default: %(default)s)")
    ap.add_argument("--steps", type=positive, default=20, help="timed steps, median reported (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default: %(default)s)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--step", choices=("train", "forward", "pof"), default="train")
    ap.add_argument("--skip-pof", action="store_true", help="PyTorch only")
    ap.add_argument("--pof-args", default="", metavar="'OPTS'",
                    help="more options for pof bench, e.g. --pof-args=-model_recompute (PyTorch unchanged)")
    ap.add_argument("--pof-timeout", type=positive, default=3600, help="seconds before pof is killed")
    ap.add_argument("--json", metavar="OUT", help="write both results (and the settings) to OUT")
    ap.add_argument("--_worker", choices=("nchw", "channels_last"), help=argparse.SUPPRESS)
    argv = sys.argv[1:]
    args = ap.parse_args(argv)
    if args.warmup < 0:
        ap.error(f"--warmup must be >= 0, got {args.warmup}")
    if args.torch_threads is None:
        args.torch_threads = args.ranks * args.threads
    if args._worker:
        print(json.dumps(torch_worker(args, args._worker)))
        return 0
    args.argv = [a for a in argv]
    if args.steps < 20:
        print(f"peer_bench: warning: median of {args.steps} < 20 steps, expect noise", file=sys.stderr)

    load0 = os.getloadavg()
    print(f"PyTorch ({args.torch_threads} thread(s)):", flush=True)
    t = run_torch(args)
    t["loadavg_1min_before_after"] = [load0[0], os.getloadavg()[0]]
    r, err = (None, "skipped (--skip-pof)") if args.skip_pof else (None, None)
    if not args.skip_pof:
        print("pof:", flush=True)
        r, err = run_pof(args)
        if err:
            print(f"peer_bench: pof bench failed: {err}", file=sys.stderr, flush=True)
    print_table(args, t, r)
    if args.json:
        out = dict(settings=dict(depth=args.depth, width=args.width, base=16, input="x".join(map(str, args.input)),
                                 classes=args.classes, batch=args.batch, step=args.step,
                                 precision=args.precision, ranks=args.ranks, threads=args.threads,
                                 torch_threads=args.torch_threads, steps=args.steps, warmup=args.warmup),
                   pytorch=t, pof=r, pof_error=err,
                   ratio_images_per_s=(r["images_per_s"] / t["images_per_s"]) if r else None)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
        os.replace(tmp, args.json)
    return 1 if (err and not args.skip_pof) else 0


if __name__ == "__main__":
    sys.exit(main())
