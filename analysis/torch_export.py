#!/usr/bin/python3
"""Export a pof model file (pretrain or posttrain) to PyTorch state dicts.

Reads MODEL.h5 with pof's checks (format version, complete mark, CRC-32 of every dataset), loads
its /tensors group (PyTorch state_dict names and shapes; files without it: the flat /params and
/bn_running) into pof_torch.WRN with load_state_dict(strict=True) and writes, with torch.save:
  --features F    the feature extractor (with BN running_mean/running_var and
                  num_batches_tracked = the global step buffers)
  --classifier C  the classifier (weight [classes, F], bias [classes])
  --whole W       (optional) the whole WRN's state dict in the names of tests/ref/WRN_LAYOUT.md,
                  loadable by analysis/pof_torch.py's WRN
--layout reference (default) writes F and C like the reference code's fet_<epoch>.pth and
clf_<epoch>.pth: {"param": state_dict, "optim": a fresh Nesterov SGD state (momentum 0.9,
weight decay 5e-4, lr = the file's base lr; no momentum buffers: pof's optimizer state is not
exported)}, blocks named layer{s}.num_{j}.*, the final BN bn_out, the classifier
classifiers.0.{weight,bias}. --layout canonical writes plain state dicts: the names of
tests/ref/WRN_LAYOUT.md (layer{s}.{j}.*, bn1) and an nn.Linear's {weight, bias}.
Tensors are float32 (pof trains in float32 from double master weights) unless --double.
The architecture is printed and stored nowhere else: rebuild it with
pof_torch.WRN(depth, width, base, in_c, classes) (printed as the last JSON line)."""
import argparse
import json
import sys

import pofmodel as pm


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="pof model file (.h5)")
    ap.add_argument("--features", required=True, help="output: feature-extractor state dict (.pt)")
    ap.add_argument("--classifier", required=True, help="output: classifier state dict (.pt)")
    ap.add_argument("--whole", help="output: whole-WRN state dict (.pt)")
    ap.add_argument("--double", action="store_true", help="keep float64 parameters")
    ap.add_argument("--layout", choices=("reference", "canonical"), default="reference",
                    help="names and file shape of --features/--classifier (default reference)")
    a = ap.parse_args()
    try:
        import torch
        import pof_torch as pt
        meta, params, running, _ = pm.read_model(a.model)
        dt = torch.float64 if a.double else torch.float32
        shape = [meta[k] for k in ("depth", "width", "base", "in_c", "classes")]
        model = pt.WRN(*shape).to(dt)
        n = sum(p.numel() for p in model.parameters())
        if n != meta["n_params"]:
            raise pm.ModelError(f"{a.model}: n_params {meta['n_params']} differs from the {n} of the WRN it describes")
        try:  # the file's /tensors by state_dict name (strict: every name, every shape)
            sd = {k: torch.from_numpy(v) for k, v in pm.read_tensors(a.model).items()}
            model.load_state_dict({k: v if k.endswith("num_batches_tracked") else v.to(dt)
                                   for k, v in sd.items()}, strict=True)
        except pm.ModelError:  # a file of a pof before /tensors: the flat arenas
            pt.load_flat(model, torch.from_numpy(params).to(dt))
            pt.load_running(model, torch.from_numpy(running).to(dt))
        sd = model.state_dict()
        feat = {k: v.clone() for k, v in sd.items() if not k.startswith("linear.")}
        cls = {"weight": sd["linear.weight"].clone(), "bias": sd["linear.bias"].clone()}
        if a.layout == "reference":
            feat = pm.to_reference(feat)
            cls = {"classifiers.0.weight": cls["weight"], "classifiers.0.bias": cls["bias"]}

            def wrap(sd):
                ps = [v for k, v in sd.items() if not ("running_" in k or k.endswith("num_batches_tracked"))]
                ps = [torch.nn.Parameter(v.clone()) for v in ps]
                opt = torch.optim.SGD(ps, lr=float(meta["lr_base"]), momentum=0.9, weight_decay=5e-4, nesterov=True)
                return {"param": sd, "optim": opt.state_dict()}
            feat, cls = wrap(feat), wrap(cls)
        torch.save(feat, a.features)
        torch.save(cls, a.classifier)
        if a.whole:
            torch.save({k: v.clone() for k, v in sd.items()}, a.whole)
    except (pm.ModelError, ValueError, OSError) as e:
        sys.exit(f"torch_export.py: error: {e}")
    print(f"torch_export.py: wrote {a.features}, {a.classifier}{', ' + a.whole if a.whole else ''}")
    print(json.dumps({"depth": meta["depth"], "width": meta["width"], "base": meta["base"], "in_c": meta["in_c"],
                      "in_h": meta["in_h"], "in_w": meta["in_w"], "classes": meta["classes"],
                      "dataset": meta["dataset"], "kind": meta["kind"], "epochs_done": meta["epochs_done"]}))


if __name__ == "__main__":
    main()
