#!/usr/bin/python3
"""PyTorch's data-parallel scaling on the same cores: DDP (gloo) with P processes x 1 thread against
one process with P threads, the same global batch, model and step (issue 11's peer for pof's
2 ranks x 1 thread vs 1 rank x 2 threads).

Each configuration runs the training step (forward, mean CE, backward, Nesterov SGD, momentum 0.9,
wd 5e-4) of WRN-depth-width (base 16) on synthetic data: --warmup steps, then the median of --steps
timed steps (under DDP the slowest rank's median). DDP buckets gradients and all-reduces them
during backward (gloo, localhost TCP); BatchNorm is per process (torch 1.13's SyncBatchNorm needs
CUDA), while pof synchronizes BN across ranks: pof does strictly more communication.
Last line: one JSON object."""
import argparse
import json
import os
import socket
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(args):
    import torch
    sys.path.insert(0, os.path.join(ROOT, "analysis"))
    import pof_torch as pt
    torch.manual_seed(0)
    c, h, w = args.input
    model = pt.WRN(args.depth, args.width, 16, c, 10)
    return pt, model


def timed(step, warmup, steps):
    for _ in range(warmup):
        step()
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def worker(rank, world, port, args, q):
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    pt, model = build(args)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    c, h, w = args.input
    n = args.batch // world
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(n, c, h, w, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    opt = pt.make_sgd(ddp.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)

    def step():
        ddp.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
    med = timed(step, args.warmup, args.steps)
    t = torch.tensor([med], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    if rank == 0:
        q.put(float(t))
    dist.destroy_process_group()


def single(args):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.procs)
    pt, model = build(args)
    c, h, w = args.input
    x = torch.randn(args.batch, c, h, w)
    y = torch.randint(0, 10, (args.batch,))
    opt = pt.make_sgd(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)

    def step():
        model.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return timed(step, args.warmup, args.steps)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=2, help="DDP processes (1 thread each) = threads of the single process")
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--input", default="1x28x28", help="CxHxW")
    ap.add_argument("--batch", type=int, default=128, help="global batch (split over the processes)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    args.input = tuple(int(v) for v in args.input.lower().split("x"))
    if len(args.input) != 3 or args.batch % args.procs:
        ap.error("--input must be CxHxW and --batch divisible by --procs")
    import torch
    import torch.multiprocessing as mp
    t1 = single(args)
    print(f"PyTorch 1 process x {args.procs} threads: {1e3 * t1:8.1f} ms/step {args.batch / t1:8.1f} images/s", flush=True)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    mp.spawn(worker, args=(args.procs, free_port(), args, q), nprocs=args.procs, join=True)
    tp = q.get()
    print(f"PyTorch DDP gloo {args.procs} x 1 thread:  {1e3 * tp:8.1f} ms/step {args.batch / tp:8.1f} images/s", flush=True)
    print(f"DDP / single-process throughput: {t1 / tp:.3f}")
    print(json.dumps(dict(model=f"WRN-{args.depth}-{args.width}", input="x".join(map(str, args.input)),
                          batch=args.batch, procs=args.procs, torch_version=torch.__version__,
                          single_ms=1e3 * t1, single_images_per_s=args.batch / t1,
                          ddp_ms=1e3 * tp, ddp_images_per_s=args.batch / tp, ddp_over_single=t1 / tp)))


if __name__ == "__main__":
    main()
