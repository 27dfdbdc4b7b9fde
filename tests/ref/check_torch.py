#!/usr/bin/python3
"""Compare the reference WRN (tests/ref/ref_wrn.c) with an independent PyTorch model built from
the layout documented in include/pof/nn.h, in float64: parameter names/shapes/order, train-mode loss, features, logits,
BN batch statistics, every gradient, the running-statistics update, eval mode, and the backward
from a feature gradient.  Usage: check_torch.py path/to/ref_wrn_dump
Prints one line per comparison and ends with "N passed, N failed"; exit status 1 on any failure."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TOL = 1e-10  # relative to the compared array's largest magnitude; float64 on both sides


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False))

    def forward(self, x):
        a1 = F.relu(self.bn1(x))
        c2 = self.conv2(F.relu(self.bn2(self.conv1(a1))))
        return c2 + self.shortcut(x)  # the raw block input, not a1


class WRN(nn.Module):
    def __init__(self, depth, k, base, cin, classes):
        super().__init__()
        n = (depth - 4) // 6
        w = [base, base * k, 2 * base * k, 4 * base * k]
        self.conv1 = nn.Conv2d(cin, w[0], 3, 1, 1, bias=False)
        prev = w[0]
        for s, stride in zip((1, 2, 3), (1, 2, 2)):
            blocks = []
            for j in range(n):
                blocks.append(Block(prev if j == 0 else w[s], w[s], stride if j == 0 else 1))
            prev = w[s]
            setattr(self, "layer%d" % s, nn.Sequential(*blocks))
        self.bn1 = nn.BatchNorm2d(w[3])
        self.linear = nn.Linear(w[3], classes)

    def features(self, x):
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        return F.relu(self.bn1(x)).mean(dim=(2, 3))

    def forward(self, x):
        h = self.features(x)
        return h, self.linear(h)


passed = failed = 0


def check(what, ours, theirs, tol=TOL):
    global passed, failed
    ours = np.asarray(ours, dtype=np.float64).ravel()
    theirs = np.asarray(theirs, dtype=np.float64).ravel()
    if ours.shape != theirs.shape:
        print("FAIL %s: sizes %s vs %s" % (what, ours.shape, theirs.shape))
        failed += 1
        return
    scale = max(np.abs(theirs).max(initial=0.0), 1e-300)
    err = np.abs(ours - theirs).max(initial=0.0) / scale
    ok = err < tol
    print("%s %-44s max rel diff %.2e" % ("ok  " if ok else "FAIL", what, err))
    passed += ok
    failed += not ok


def run_case(dump, depth, k, base, cin, hh, ww, classes, n, seed):
    label = "WRN-%d-%d b%d %dx%dx%d n%d" % (depth, k, base, cin, hh, ww, n)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([dump, d] + [str(v) for v in (depth, k, base, cin, hh, ww, classes, n, seed)], check=True)
        rd = lambda name: np.fromfile(os.path.join(d, name), dtype=np.float64)
        y = torch.from_numpy(np.fromfile(os.path.join(d, "y"), dtype=np.int32).astype(np.int64))
        with open(os.path.join(d, "tensors.txt")) as f:
            table = [line.split() for line in f]
        params, run0, x = rd("params"), rd("running0"), torch.from_numpy(rd("x").reshape(n, cin, hh, ww))
        r = torch.from_numpy(rd("r").reshape(n, -1))

        model = WRN(depth, k, base, cin, classes).double()
        named = list(model.named_parameters())
        names_ok = [t[0] for t in table] == [nm for nm, _ in named] and all(
            [int(v) for v in t[3:]] == list(p.shape) and int(t[1]) == off
            for t, (_, p), off in zip(table, named, np.cumsum([0] + [p.numel() for _, p in named])[:-1]))
        global passed, failed
        print("%s %s: parameter names, shapes and offsets in torch order" % ("ok  " if names_ok else "FAIL", label))
        passed += names_ok
        failed += not names_ok
        if not names_ok:
            return

        def load(running):
            with torch.no_grad():
                for (_, p), t in zip(named, table):
                    off, numel = int(t[1]), int(t[2])
                    p.copy_(torch.from_numpy(params[off:off + numel]).view_as(p))
                o = 0
                for m in model.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        c = m.num_features
                        m.running_mean.copy_(torch.from_numpy(running[o:o + c]))
                        m.running_var.copy_(torch.from_numpy(running[o + c:o + 2 * c]))
                        o += 2 * c
            return o

        def running_now():
            return np.concatenate([np.concatenate([m.running_mean.numpy(), m.running_var.numpy()])
                                   for m in model.modules() if isinstance(m, nn.BatchNorm2d)])

        def grads(xt):
            return np.concatenate([p.grad.numpy().ravel() for _, p in named]), xt.grad.numpy()

        # train mode: batch statistics of every BN input via pre-hooks, in module (= BN) order
        check(label + ": running-state length", [load(run0)], [len(run0)], 0.5)
        stats = []
        hooks = [m.register_forward_pre_hook(
            lambda m, inp: stats.append(torch.cat([inp[0].mean(dim=(0, 2, 3)), inp[0].var(dim=(0, 2, 3), unbiased=False)]).detach()))
            for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        model.train()
        xt = x.clone().requires_grad_(True)
        h, logits = model(xt)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        for hk in hooks:
            hk.remove()
        g, gx = grads(xt)
        check(label + ": train loss", rd("loss"), [loss.item()])
        check(label + ": train features h", rd("h"), h.detach().numpy())
        check(label + ": train logits", rd("logits"), logits.detach().numpy())
        check(label + ": BN batch statistics", rd("batch_stats"), torch.cat(stats).numpy())
        check(label + ": train grad params", rd("grad_params"), g)
        for t in table:  # each tensor on its own scale too
            off, numel = int(t[1]), int(t[2])
            check(label + ":   grad " + t[0], rd("grad_params")[off:off + numel], g[off:off + numel])
        check(label + ": train grad x", rd("grad_x"), gx)
        check(label + ": running stats after update", rd("running1"), running_now())

        # eval mode with the updated running statistics
        model.zero_grad()
        model.eval()
        xt = x.clone().requires_grad_(True)
        h, logits = model(xt)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        g, gx = grads(xt)
        check(label + ": eval loss", rd("eval_loss"), [loss.item()])
        check(label + ": eval logits", rd("eval_logits"), logits.detach().numpy())
        check(label + ": eval grad params", rd("eval_grad_params"), g)
        check(label + ": eval grad x", rd("eval_grad_x"), gx)

        # backward from a feature gradient r (train-mode BN): d sum(r * h)
        load(run0)
        model.zero_grad()
        model.train()
        xt = x.clone().requires_grad_(True)
        (model.features(xt) * r).sum().backward()
        g = np.concatenate([(p.grad.numpy() if p.grad is not None else np.zeros(p.shape)).ravel() for _, p in named])
        check(label + ": feature-backward grad params", rd("feat_grad_params"), g)
        check(label + ": feature-backward grad x", rd("feat_grad_x"), xt.grad.numpy())


def main():
    if len(sys.argv) != 2:
        print("usage: check_torch.py path/to/ref_wrn_dump")
        return 2
    torch.set_num_threads(1)
    # identity shortcut in stage 1; stride-2 conv shortcuts; even input
    run_case(sys.argv[1], 10, 1, 4, 2, 6, 6, 3, 3, 1)
    # n = 2 blocks per stage: stride-1 conv shortcut in stage 1, identity in every second block; odd input
    run_case(sys.argv[1], 16, 2, 2, 3, 9, 7, 5, 4, 2)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
