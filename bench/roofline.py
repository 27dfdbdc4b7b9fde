#!/usr/bin/python3
"""How close the speed table's figures are to this machine's arithmetic peak.

Convolution FLOPs of a WRN-depth-width step (pof's network: 3x3 first convolution, pre-activation
blocks whose conv1 keeps the resolution and whose conv2 and 1x1 shortcut carry the stride):
  training step = forward + backward data (all but the first convolution) + backward weights,
  PoF step      = training step + the weak batch's forward (same batch size),
2 FLOPs per multiply-add, direct-algorithm count (BN, ReLU, pooling and the classifier are left
out: under 1 % of the FLOPs). Winograd does fewer multiplications, so its "direct-equivalent"
rate can exceed the peak.

Inputs: a speed table JSON (bench/speed_table.py --out) and the JSON lines of bench/peak_flops
(built as build/peak_flops; run with the same thread count). Prints, per row, images/s and the
direct-equivalent GFLOP/s of PyTorch and pof, and pof's fraction of the matching peak (fp32 rows:
fp32_avx512, or fp32_avx2 for the AVX2 row; bf16 rows: bf16_avx512), and the images/s that
1.5x PyTorch would need as a fraction of the peak.
Usage: bench/roofline.py SPEED_TABLE.json PEAK.jsonl
"""
import json
import sys


def wrn_conv_macs(depth, width, in_c, h, w, base=16):
    """Multiply-adds of one image's forward convolutions: (total, first convolution's)."""
    n = (depth - 4) // 6
    widths = [base, base * width, 2 * base * width, 4 * base * width]
    first = h * w * in_c * widths[0] * 9
    macs, c = first, widths[0]
    for st in (1, 2, 3):
        for j in range(n):
            out, stride = widths[st], (2 if (j == 0 and st > 1) else 1)
            macs += h * w * c * out * 9                      # conv1, stride 1
            ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
            macs += ho * wo * out * out * 9                  # conv2, stride s
            if stride != 1 or c != out:
                macs += ho * wo * c * out                    # 1x1 shortcut
            h, w, c = ho, wo, out
    return macs, first


def step_flops(settings, step):
    c, h, w = (int(v) for v in settings["input"].split("x"))
    macs, first = wrn_conv_macs(settings["depth"], settings["width"], c, h, w, settings.get("base", 16))
    train = 2 * (3 * macs - first)
    return train + (2 * macs if step == "pof" else 0)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    table = json.load(open(sys.argv[1]))
    peaks = {}
    for ln in open(sys.argv[2]):
        if ln.strip():
            r = json.loads(ln)
            if r.get("supported"):
                peaks[r["kernel"]] = r["gflops"]
    if not peaks:
        sys.exit(f"roofline: no supported kernel in {sys.argv[2]}")
    print("peaks (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))
    print("| row | GFLOP/image | PyTorch img/s | GFLOP/s | pof img/s | GFLOP/s | pof / peak | 1.5x PyTorch / peak |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in table.items():
        if not isinstance(r, dict) or "settings" not in r or not r.get("pof"):
            continue
        s = r["settings"]
        f = step_flops(s, s["step"]) / 1e9
        peak_key = "bf16_avx512" if s["precision"] == "bf16" else ("fp32_avx2" if name.endswith("avx2") else "fp32_avx512")
        peak = peaks.get(peak_key)
        t, p = r["pytorch"]["images_per_s"], r["pof"]["images_per_s"]
        frac = f"{p * f / peak:.2f} of {peak_key}" if peak else "-"
        need = f"{1.5 * t * f / peak:.2f}" if peak else "-"
        print(f"| {name} | {f:.3f} | {t:.1f} | {t * f:.0f} | {p:.1f} | {p * f:.0f} | {frac} | {need} |")


if __name__ == "__main__":
    main()
