#!/usr/bin/python3
"""PyTorch reference of the pof WRN (docs: tests/ref/WRN_LAYOUT.md, POF.md) and its training steps.

Used by tests/fixtures/make_fixtures.py (reference fixtures for the C tests), bench/peer_bench.py
(the peer benchmark) and the checkpoint import/export tools.

The model's attribute names are the canonical names of tests/ref/WRN_LAYOUT.md, so `model.state_dict()`
keys are the canonical parameter and buffer names (plus PyTorch's `num_batches_tracked` buffers,
which pof does not use) and `model.named_parameters()` yields the parameters in arena order.

Arena conventions (shared with the C code):
  parameter arena  every parameter tensor in canonical order, row-major, back to back
  running arena    per BN in BN order: running_mean[C] then running_var[C]
"""
import collections
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


class Block(nn.Module):
    """Pre-activation WRN block; the stride sits on conv2, the shortcut sees the raw input."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        # Attribute order fixes the state_dict / arena order: bn1, conv1, bn2, conv2, shortcut.
        self.bn1 = nn.BatchNorm2d(cin, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=stride, padding=1, bias=False)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, padding=0, bias=False))

    def forward(self, x):
        a1 = F.relu(self.bn1(x))
        c1 = self.conv1(a1)
        a2 = F.relu(self.bn2(c1))
        c2 = self.conv2(a2)
        return c2 + self.shortcut(x)


class WRN(nn.Module):
    """WRN-depth-width with base width `base`, `in_channels` input planes and `classes` outputs."""

    def __init__(self, depth, width, base=16, in_channels=3, classes=10):
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(f"WRN depth must be 6n+4 with n >= 1, got {depth}")
        if width < 1 or base < 1 or in_channels < 1 or classes < 1:
            raise ValueError(f"WRN width, base, in_channels, classes must be positive, got "
                             f"{width}, {base}, {in_channels}, {classes}")
        self.depth, self.width, self.base = depth, width, base
        self.in_channels, self.classes = in_channels, classes
        n = (depth - 4) // 6
        widths = stage_widths(width, base)
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        prev = widths[0]
        for s, stride in zip((1, 2, 3), (1, 2, 2)):
            blocks = []
            for j in range(n):
                blocks.append(Block(prev if j == 0 else widths[s], widths[s], stride if j == 0 else 1))
            prev = widths[s]
            setattr(self, f"layer{s}", nn.Sequential(*blocks))
        self.bn1 = nn.BatchNorm2d(widths[3], eps=BN_EPS, momentum=BN_MOMENTUM)
        self.linear = nn.Linear(widths[3], classes)
        self.reset_parameters()

    def reset_parameters(self):
        """The init of tests/ref/WRN_LAYOUT.md: Kaiming-normal fan_out convs, BN 1/0, W ~ N(0, 0.1^2), b = 0."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                with torch.no_grad():
                    m.weight.normal_(0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()  # weight 1, bias 0, running mean 0, var 1
        with torch.no_grad():
            self.linear.weight.normal_(0.0, 0.1)
            self.linear.bias.zero_()

    def features(self, x):
        """phi: (N, C, H, W) -> (N, F), global average pool of ReLU(BN(x))."""
        out = self.conv1(x)
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.relu(self.bn1(out))
        return out.mean(dim=(2, 3))

    def forward(self, x):
        return self.linear(self.features(x))

    def feature_parameters(self):
        """Parameters of phi (everything but the classifier), in arena order."""
        return [p for name, p in self.named_parameters() if not name.startswith("linear.")]

    def classifier_parameters(self):
        return [self.linear.weight, self.linear.bias]

    def bn_modules(self):
        """The BN layers in BN (= running arena) order."""
        return [m for _, m in bn_named_modules(self)]


def stage_widths(width, base):
    return [base, base * width, 2 * base * width, 4 * base * width]


def canonical_layout(depth, width, base=16, in_channels=3, classes=10):
    """[(name, shape)] of the parameter arena, built from tests/ref/WRN_LAYOUT.md (not from the module)."""
    if depth < 10 or (depth - 4) % 6 != 0:
        raise ValueError(f"WRN depth must be 6n+4 with n >= 1, got {depth}")
    n = (depth - 4) // 6
    w = stage_widths(width, base)
    out = [("conv1.weight", (w[0], in_channels, 3, 3))]
    prev = w[0]
    for s, stride in zip((1, 2, 3), (1, 2, 2)):
        for j in range(n):
            cin, cout, st = (prev if j == 0 else w[s]), w[s], (stride if j == 0 else 1)
            p = f"layer{s}.{j}."
            out += [(p + "bn1.weight", (cin,)), (p + "bn1.bias", (cin,)),
                    (p + "conv1.weight", (cout, cin, 3, 3)),
                    (p + "bn2.weight", (cout,)), (p + "bn2.bias", (cout,)),
                    (p + "conv2.weight", (cout, cout, 3, 3))]
            if st != 1 or cin != cout:
                out.append((p + "shortcut.0.weight", (cout, cin, 1, 1)))
        prev = w[s]
    out += [("bn1.weight", (w[3],)), ("bn1.bias", (w[3],)),
            ("linear.weight", (classes, w[3])), ("linear.bias", (classes,))]
    return out


def canonical_bn_layout(depth, width, base=16):
    """[(bn module name, channels)] in BN order, built from tests/ref/WRN_LAYOUT.md."""
    n = (depth - 4) // 6
    w = stage_widths(width, base)
    out, prev = [], w[0]
    for s in (1, 2, 3):
        for j in range(n):
            out += [(f"layer{s}.{j}.bn1", prev if j == 0 else w[s]), (f"layer{s}.{j}.bn2", w[s])]
        prev = w[s]
    out.append(("bn1", w[3]))
    return out


def bn_named_modules(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]


def check_layout(model):
    """Raise if the module's parameter/BN order differs from canonical_layout/canonical_bn_layout."""
    want = canonical_layout(model.depth, model.width, model.base, model.in_channels, model.classes)
    have = [(name, tuple(p.shape)) for name, p in model.named_parameters()]
    if have != want:
        raise RuntimeError(f"parameter order differs from tests/ref/WRN_LAYOUT.md:\n have {have}\n want {want}")
    want_bn = canonical_bn_layout(model.depth, model.width, model.base)
    have_bn = [(name, m.num_features) for name, m in bn_named_modules(model)]
    if have_bn != want_bn:
        raise RuntimeError(f"BN order differs from tests/ref/WRN_LAYOUT.md:\n have {have_bn}\n want {want_bn}")
    sd = [k for k in model.state_dict().keys() if not k.endswith("num_batches_tracked")]
    want_sd = []
    for name, _ in want:  # buffers follow their module's weight and bias
        want_sd.append(name)
        if name.endswith("bn1.bias") or name.endswith("bn2.bias"):
            want_sd += [name[:-4] + "running_mean", name[:-4] + "running_var"]
    if sd != want_sd:
        raise RuntimeError(f"state_dict keys differ from the canonical names:\n have {sd}\n want {want_sd}")


# ---- flat arenas -------------------------------------------------------------------------------

def arena_size(layout):
    return sum(math.prod(shape) for _, shape in layout)


def params_to_flat(model):
    """The parameter arena (1-D tensor, model dtype), canonical order."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def grads_to_flat(model):
    """The gradient arena (same layout as the parameter arena); a missing grad counts as zero."""
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1)
                      for p in model.parameters()])


def flat_to_state(flat, layout):
    """Parameter arena -> OrderedDict name -> tensor of the canonical shape (views of `flat`)."""
    flat = torch.as_tensor(flat)
    if flat.dim() != 1 or flat.numel() != arena_size(layout):
        raise ValueError(f"parameter arena has {flat.numel()} values, the layout needs {arena_size(layout)}")
    out, off = collections.OrderedDict(), 0
    for name, shape in layout:
        k = math.prod(shape)
        out[name] = flat[off:off + k].view(shape)
        off += k
    return out


def state_to_flat(state, layout):
    """OrderedDict/dict of canonical names -> parameter arena (1-D tensor)."""
    parts = []
    for name, shape in layout:
        if name not in state:
            raise KeyError(f"state dict lacks parameter {name}")
        t = torch.as_tensor(state[name])
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"{name} has shape {tuple(t.shape)}, the layout needs {tuple(shape)}")
        parts.append(t.reshape(-1))
    return torch.cat(parts)


def load_flat(model, flat):
    """Copy a parameter arena into the model's parameters."""
    layout = [(name, tuple(p.shape)) for name, p in model.named_parameters()]
    state = flat_to_state(flat, layout)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(state[name])


def running_to_flat(model):
    """The running arena: per BN in order, running_mean then running_var."""
    parts = []
    for m in model.bn_modules():
        parts += [m.running_mean.reshape(-1), m.running_var.reshape(-1)]
    return torch.cat(parts).detach().clone()


def load_running(model, flat):
    """Copy a running arena into the model's BN buffers."""
    flat = torch.as_tensor(flat)
    need = sum(2 * m.num_features for m in model.bn_modules())
    if flat.dim() != 1 or flat.numel() != need:
        raise ValueError(f"running arena has {flat.numel()} values, the model needs {need}")
    off = 0
    with torch.no_grad():
        for m in model.bn_modules():
            c = m.num_features
            m.running_mean.copy_(flat[off:off + c])
            m.running_var.copy_(flat[off + c:off + 2 * c])
            off += 2 * c


def state_to_running(state, bn_layout):
    """state dict (canonical names, e.g. a PyTorch checkpoint) -> running arena, given
    canonical_bn_layout(...)."""
    parts = []
    for name, ch in bn_layout:
        for buf in ("running_mean", "running_var"):
            key = f"{name}.{buf}"
            if key not in state:
                raise KeyError(f"state dict lacks buffer {key}")
            t = torch.as_tensor(state[key]).reshape(-1)
            if t.numel() != ch:
                raise ValueError(f"{key} has {t.numel()} values, the layout needs {ch}")
            parts.append(t)
    return torch.cat(parts)


def running_to_state(flat, bn_layout):
    """Running arena -> OrderedDict {bn.running_mean, bn.running_var} (views of `flat`)."""
    flat = torch.as_tensor(flat)
    need = sum(2 * ch for _, ch in bn_layout)
    if flat.dim() != 1 or flat.numel() != need:
        raise ValueError(f"running arena has {flat.numel()} values, the layout needs {need}")
    out, off = collections.OrderedDict(), 0
    for name, ch in bn_layout:
        out[f"{name}.running_mean"] = flat[off:off + ch]
        out[f"{name}.running_var"] = flat[off + ch:off + 2 * ch]
        off += 2 * ch
    return out


def momentum_to_flat(model, optimizer):
    """The optimizer's momentum buffers as an arena (zero where no buffer exists yet)."""
    parts = []
    for p in model.parameters():
        buf = optimizer.state.get(p, {}).get("momentum_buffer")
        parts.append((buf if buf is not None else torch.zeros_like(p)).detach().reshape(-1))
    return torch.cat(parts)


# ---- training steps -----------------------------------------------------------------------------

def make_sgd(params, lr=0.1, momentum=0.9, weight_decay=5e-4):
    """Nesterov SGD as in the paper: weight decay on every given parameter (BN and biases too)."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)


def sgd_step(model, optimizer, x, y):
    """One training step: training-mode forward (updates BN running stats), mean CE, backward,
    optimizer step. Returns (loss, logits) before the step."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()


class FrozenRunningStats:
    """Context manager: BN layers still normalize with batch statistics but running stats are
    restored on exit (SAM's second pass, PoF's weak pass)."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
                      for m in self.model.bn_modules()]
        return self

    def __exit__(self, *exc):
        with torch.no_grad():
            for m, (rm, rv, nb) in zip(self.model.bn_modules(), self.saved):
                m.running_mean.copy_(rm)
                m.running_var.copy_(rv)
                m.num_batches_tracked.copy_(nb)
        return False


def sam_step(model, optimizer, x, y, rho=0.05):
    """One SAM step: g = grad L(w) (this forward updates BN running stats); e = rho g / ||g|| with
    the global 2-norm over all parameters; g' = grad L(w + e) with BN in training mode but running
    stats not updated; restore w; base-optimizer step with g'. Returns (loss at w, logits at w)."""
    model.train()
    params = [p for p in model.parameters()]
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    with torch.no_grad():
        gnorm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params))
        eps = [rho * p.grad / gnorm.to(p.dtype) for p in params]
        saved = [p.detach().clone() for p in params]
        for p, e in zip(params, eps):
            p.add_(e)
    optimizer.zero_grad(set_to_none=True)
    with FrozenRunningStats(model):
        F.cross_entropy(model(x), y).backward()
    with torch.no_grad():
        for p, w in zip(params, saved):
            p.copy_(w)
    optimizer.step()
    return loss.detach(), logits.detach()


def pof_line_search(hw, yw, W0, b0, eta_init=1.0, eta_cap=128.0, partitions=16):
    """Steps 3-5 of POF.md on weak features hw [N', F] (no grad): the classifier gradient g at
    theta0, the doubling bracket and the K-point grid. Losses are per-sample CE summed in float64.
    Returns a dict with L0, gW, gb, eta_max, capped (no bracket trial exceeded L0), eta_star and
    the trial/grid losses."""
    with torch.enable_grad():
        W = W0.detach().clone().requires_grad_(True)
        b = b0.detach().clone().requires_grad_(True)
        L0 = F.cross_entropy(F.linear(hw.detach(), W, b).double(), yw)
        gW, gb = torch.autograd.grad(L0, [W, b])

    def losses(etas):  # mean CE at theta0 - eta g for every eta at once, float64
        e = torch.as_tensor(etas, dtype=W0.dtype)
        Wt = W0.detach()[None] - e[:, None, None] * gW[None]       # (T, classes, F)
        bt = b0.detach()[None] - e[:, None] * gb[None]             # (T, classes)
        z = (torch.einsum("nf,tcf->tnc", hw, Wt) + bt[:, None, :]).double()
        T, N, C = z.shape
        ce = F.cross_entropy(z.reshape(T * N, C), yw.repeat(T), reduction="none").view(T, N)
        return ce.sum(dim=1) / N

    trials, eta = [], eta_init
    while eta <= eta_cap:
        trials.append(eta)
        eta *= 2.0
    with torch.no_grad():
        lt = losses(trials)
        above = (lt > L0.detach()).nonzero()
        capped = above.numel() == 0
        eta_max = eta_cap if capped else trials[int(above[0])]
        grid = [k * eta_max / partitions for k in range(1, partitions + 1)]
        lg = losses(grid)
        eta_star = grid[int(torch.argmin(lg))]  # first minimum: ties go to the smallest k
    return dict(L0=L0.detach(), gW=gW, gb=gb, eta_max=eta_max, capped=capped, eta_star=eta_star,
                trial_losses=lt, grid_losses=lg)


def pof_step(model, optimizer, x, y, xw, yw, gamma, W0=None, b0=None, eta_init=1.0, eta_cap=128.0,
             partitions=16, weak_updates_running=False, autocast=None):
    """One PoF step as we read POF.md (single process): weak-batch features without grad (BN in
    training mode; running stats untouched unless weak_updates_running), classifier line search,
    perturbed classifier theta~ = theta0 - gamma eta* g, forward/backward of the main batch through
    phi and theta~, optimizer step. `optimizer` must hold phi's parameters only; theta0 (default:
    the model's linear layer) is never changed. `gamma` is drawn by the caller (U[0, gamma_max)).
    `autocast`: a context-manager factory for the forward passes (e.g. bf16), or None.
    Returns (main loss, diagnostics dict)."""
    import contextlib
    ac = autocast if autocast is not None else contextlib.nullcontext
    W0 = model.linear.weight.detach() if W0 is None else W0
    b0 = model.linear.bias.detach() if b0 is None else b0
    model.train()
    frozen = contextlib.nullcontext() if weak_updates_running else FrozenRunningStats(model)
    with torch.no_grad(), frozen, ac():
        hw = model.features(xw)
    ls = pof_line_search(hw.to(W0.dtype), yw, W0, b0, eta_init, eta_cap, partitions)
    step = gamma * ls["eta_star"]
    Wp = W0 - step * ls["gW"]
    bp = b0 - step * ls["gb"]
    optimizer.zero_grad(set_to_none=True)
    with ac():
        h = model.features(x)
        loss = F.cross_entropy(F.linear(h, Wp.to(h.dtype), bp.to(h.dtype)), y)
    loss.backward()
    optimizer.step()
    ls.update(gamma=gamma, theta_shift=torch.sqrt(((Wp - W0) ** 2).sum() + ((bp - b0) ** 2).sum()))
    return loss.detach(), ls
