#!/usr/bin/python3
"""Convert a PyTorch WRN (state dicts in the reference code's layout) into a pof model file.

Input: the feature extractor's state dict (--features) and the classifier's (--classifier), as
saved by torch.save; the reference code's files fet_<epoch>.pth / clf_<epoch>.pth are read as
they are: a {"param": ..., "optim": ...} (or {"state_dict": ...}) wrapper is unwrapped, `module.`
prefixes (DataParallel/DDP) are dropped, `num_batches_tracked` buffers ignored. Feature-extractor
names: the reference code's (conv1, layer{s}.num_{j}.bn1/conv1/bn2/conv2/shortcut.0, bn_out) or
those of tests/ref/WRN_LAYOUT.md (layer{s}.{j}.*, bn1 = the final BN). The classifier holds
weight [classes, F] and bias [classes]: the reference's classifiers.0.weight/bias, keys
weight/bias, or any one <prefix>.weight/<prefix>.bias pair. A single whole-WRN state dict (with linear.weight and
linear.bias) may be given as --features alone. Depth, width, base width and input channels are
read from the tensor shapes; the input size and the dataset name from --data (a pof dataset file)
or --input CxHxW [--dataset NAME].

Refused with a message naming the tensor: convolution biases (pof's convs have none), missing or
unexpected tensors, shapes that do not fit the WRN the shapes describe, non-finite values.

The model file has kind "pretrain", no optimizer state, and the learning-rate schedule given by
--lr/--schedule/--milestones/--factor read at --epochs-done (defaults: the paper's pretraining,
200 epochs of lr 0.1 x 0.2 at 60, 120, 160); `pof posttrain` reads its learning rate from that
schedule unless -opt_lr is given. Check it with `pof eval -model_in OUT -data_file DATA`."""
import argparse
import sys

import pofmodel as pm


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="feature-extractor state dict (.pt), or a whole WRN")
    ap.add_argument("--classifier", help="classifier state dict (.pt)")
    ap.add_argument("--out", required=True, help="pof model file to write (.h5)")
    ap.add_argument("--data", help="pof dataset file: input shape, dataset name and class count")
    ap.add_argument("--input", help="input shape CxHxW (instead of --data)")
    ap.add_argument("--dataset", default="", help="dataset name stored in the model (with --input)")
    ap.add_argument("--epochs-done", type=int, default=200)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--schedule", choices=sorted(pm.SCHEDULES), default="step")
    ap.add_argument("--milestones", default="60,120,160")
    ap.add_argument("--factor", type=float, default=0.2)
    a = ap.parse_args()
    try:
        run(a)
    except (pm.ModelError, KeyError, ValueError, RuntimeError) as e:
        sys.exit(f"torch_import.py: error: {e}")


def run(a):
    import torch
    import pof_torch as pt
    raw = pm.load_pt(a.features, torch)
    pm.check_no_conv_bias(raw, a.features)  # before renaming, so the message names the user's tensor
    feat = pm.to_canonical(raw)
    if a.classifier:
        cls = pm.load_pt(a.classifier, torch)
        W, b = pm.classifier_from(cls, a.classifier)
        if "linear.weight" in feat or "linear.bias" in feat:
            raise pm.ModelError(f"{a.features} already holds a classifier (linear.*) and --classifier was given")
    else:
        if "linear.weight" not in feat or "linear.bias" not in feat:
            raise pm.ModelError(f"{a.features} has no linear.weight/linear.bias: give the classifier with --classifier")
        W, b = feat.pop("linear.weight"), feat.pop("linear.bias")
    depth, width, base, in_c = pm.infer_shape(feat, a.features)
    if W.dim() != 2 or b.dim() != 1 or W.shape[0] != b.shape[0]:
        raise pm.ModelError(f"classifier weight {tuple(W.shape)} and bias {tuple(b.shape)} do not form a linear layer")
    classes = int(W.shape[0])
    F_ = 4 * base * width
    if W.shape[1] != F_:
        raise pm.ModelError(f"classifier weight has shape {tuple(W.shape)}, the WRN-{depth}-{width} (base {base}) "
                            f"feature extractor has {F_} features: expected ({classes}, {F_})")
    if a.data:
        import h5py
        with h5py.File(a.data, "r") as f:
            try:
                c, h, w = (int(f.attrs[k]) for k in ("channels", "height", "width"))
                dclasses = int(f.attrs["classes"])
            except KeyError as e:
                raise pm.ModelError(f"{a.data} is not a pof dataset file (no attribute {e})") from None
            name = f.attrs.get("name", b"")
            dataset = name.decode() if isinstance(name, bytes) else str(name)
        if c != in_c:
            raise pm.ModelError(f"the model takes {in_c} input channels, {a.data} has {c}")
        if dclasses > classes:
            raise pm.ModelError(f"the classifier has {classes} outputs, {a.data} has {dclasses} classes")
    elif a.input:
        try:
            c, h, w = (int(x) for x in a.input.lower().split("x"))
        except ValueError:
            raise pm.ModelError(f"--input {a.input}: expected CxHxW, e.g. 3x32x32") from None
        if c != in_c:
            raise pm.ModelError(f"--input {a.input}: the model takes {in_c} input channels")
        dataset = a.dataset
    else:
        raise pm.ModelError("give --data (a pof dataset file) or --input CxHxW")

    model = pt.WRN(depth, width, base, in_c, classes)
    want = {k for k in model.state_dict() if not k.endswith("num_batches_tracked") and not k.startswith("linear.")}
    missing, extra = sorted(want - set(feat)), sorted(set(feat) - want)
    if missing or extra:
        raise pm.ModelError(f"{a.features} does not match WRN-{depth}-{width} (base {base}, {in_c} input channels; "
                            "names of tests/ref/WRN_LAYOUT.md): "
                            + (f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}" if missing else "")
                            + ("; " if missing and extra else "")
                            + (f"unexpected {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}" if extra else ""))
    sd = model.state_dict()
    for k in want:
        if tuple(feat[k].shape) != tuple(sd[k].shape):
            raise pm.ModelError(f"{a.features}: {k} (name of tests/ref/WRN_LAYOUT.md) has shape {tuple(feat[k].shape)}, WRN-{depth}-{width} needs {tuple(sd[k].shape)}")
    state = dict(feat)
    state["linear.weight"], state["linear.bias"] = W, b
    for k, v in state.items():
        if not torch.isfinite(torch.as_tensor(v)).all():
            raise pm.ModelError(f"{k} holds non-finite values")
    layout = pt.canonical_layout(depth, width, base, in_c, classes)
    params = pt.state_to_flat({k: torch.as_tensor(v).double() for k, v in state.items()}, layout)
    running = pt.state_to_running({k: torch.as_tensor(v).float() for k, v in state.items()}, pt.canonical_bn_layout(depth, width, base))
    n_feature = params.numel() - classes * (F_ + 1)
    ms = [int(x) for x in a.milestones.split(",") if x.strip()] if a.schedule == "step" else []
    meta = dict(depth=depth, width=width, base=base, in_c=in_c, in_h=h, in_w=w, classes=classes, dataset=dataset,
                n_params=params.numel(), n_feature=n_feature, n_bn_state=running.numel(), kind="pretrain",
                epochs_done=a.epochs_done, step_in_epoch=0, global_step=0, seed=0, ranks=1, lr_base=a.lr,
                lr_factor=a.factor, schedule=pm.SCHEDULES[a.schedule], milestones=ms, warmup_epochs=0,
                schedule_epochs=a.epochs_done, run_start_epoch=0,
                options_json=pm.options_json({"imported_from": {"features": a.features, "classifier": a.classifier or ""}}))
    pm.write_model(a.out, meta, params.numpy(), running.numpy())
    print(f"torch_import.py: wrote {a.out}: WRN-{depth}-{width} (base {base}, {in_c}x{h}x{w} input, {classes} classes"
          f"{', dataset ' + dataset if dataset else ''}), {params.numel()} parameters")


if __name__ == "__main__":
    main()
