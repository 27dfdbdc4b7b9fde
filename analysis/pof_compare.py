#!/usr/bin/python3
"""Pretrained / +SGD / +PoF comparison over seeds from a study directory (analysis/study_fmnist.sh).

Reads DIR/eval-pretrained.log (last JSON line of pof eval), DIR/{pof,sgd}-SEED/metrics.jsonl
(last epoch) and writes a CSV with one row per seed (test error and loss of each arm, paired
PoF-SGD differences, loss gap ΔL and curvature κ per arm where logged, seconds per epoch and
the PoF/SGD step-cost ratio), then mean and std rows. Prints the table. (analysis/seeds.py
reads the same directory and also draws the plot.)"""
import argparse
import os

import pofplot as pp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="study directory")
    ap.add_argument("--csv", help="output CSV (default DIR/study.csv)")
    a = ap.parse_args()
    rows, agg = pp.study_table(a.dir)
    path = a.csv or os.path.join(a.dir, "study.csv")
    pp.write_csv(path, list(rows[0].keys()), rows + agg)
    print(f"{'seed':>6} {'pretrained':>11} {'+SGD':>8} {'+PoF':>8} {'PoF-SGD':>8} {'gap SGD':>8} {'gap PoF':>8} {'kappa PoF':>9} {'cost':>6}")
    for r in rows + agg:
        print(f"{str(r['seed']):>6} {r['pretrained_error']:>11.2f} {r['sgd_error']:>8.2f} {r['pof_error']:>8.2f} {r['diff_error_pof_minus_sgd']:>+8.2f} "
              f"{r['sgd_loss_gap']:>8.4f} {r['pof_loss_gap']:>8.4f} {r['pof_kappa']:>9.4f} {r['step_cost_ratio_pof_over_sgd']:>6.2f}")
    print(f"(test error in %; written {path})")


if __name__ == "__main__":
    pp.run_main(main)
