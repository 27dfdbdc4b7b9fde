#!/usr/bin/python3
"""PyTorch's bf16 error on the tiny WRN: the bounds of tests/bf16/test_bf16.c come from here.

Same model and measure as the C test: WRN-10-1 (base 16, 10 classes), input 1x28x28, batch 32,
training-mode BN, mean cross-entropy. One forward/backward in float32 and one under
torch.autocast('cpu', dtype=torch.bfloat16) from the same parameters and batch; for each tensor
(features, logits, loss, every parameter gradient) the relative L2 error
    ||t_bf16 - t_fp32|| / ||t_fp32||
is printed, for --seeds seeds (init and batch drawn from the seed), with the per-kind maximum.
Usage: tests/bf16/torch_bf16_error.py [--seeds 3] [--batch 32] [--json out.json]
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "analysis"))
import pof_torch as pt  # noqa: E402


def run(model, x, y, bf16):
    model.zero_grad(set_to_none=True)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else torch.autocast("cpu", enabled=False)
    with ctx:
        h = model.features(x)
        z = model.linear(h)
    z = z.float()
    loss = F.cross_entropy(z, y)
    loss.backward()
    out = {"features": h.detach().float().clone(), "logits": z.detach().clone(), "loss": loss.detach().reshape(1)}
    for name, p in model.named_parameters():
        out["grad:" + name] = p.grad.detach().float().clone()
    return out


def kind(name):
    if name in ("features", "logits", "loss"):
        return name
    if "conv" in name or "shortcut" in name:
        return "grad conv"
    if name.startswith("grad:bn1."):
        return "grad head bn"
    if "bn" in name:
        return "grad bn"
    return "grad linear"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write {kind: max error} here")
    ap.add_argument("--verbose", action="store_true", help="print every tensor")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    worst = {}
    for seed in range(a.seeds):
        torch.manual_seed(seed)
        model = pt.WRN(10, 1, 16, 1, 10)
        model.train()
        x = torch.randn(a.batch, 1, 28, 28)
        y = torch.randint(0, 10, (a.batch,))
        ref = run(model, x, y, False)
        got = run(model, x, y, True)
        for k in ref:
            e = float((got[k] - ref[k]).norm() / ref[k].norm().clamp_min(1e-30))
            kd = kind(k)
            worst[kd] = max(worst.get(kd, 0.0), e)
            if a.verbose:
                print(f"seed {seed} {k:40s} {e:.4f}")
    print("PyTorch autocast bf16 vs fp32, WRN-10-1 1x28x28 batch %d, %d seeds: max relative L2 error" % (a.batch, a.seeds))
    for kd in ("features", "logits", "loss", "grad conv", "grad bn", "grad head bn", "grad linear"):
        print(f"  {kd:12s} {worst[kd]:.4f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(worst, f, indent=1)


if __name__ == "__main__":
    main()
