#!/usr/bin/env python3
"""Runs two bench_stages binaries (A: a reference build, B: a candidate) alternately, A B then B A,
for a number of rounds, and prints per benchmark the median [min-max] of each and of B/A per
round: a speed ratio that means something on a shared, noisy machine (benchmarks/RESULTS.md).

usage: scripts/bench_stages_ab.py A/bench_stages B/bench_stages [--rounds 5]
                                  [--filter 'BM_Analyze$|BM_AnalyzeRealGe'] [--min-time 1]
Figures: CPU and wall time (ms) and the per-stage counters analyze_bench reports.
"""
import argparse
import json
import statistics as st
import subprocess
import sys

KEYS = ["cpu_time", "real_time", "masks_ms", "background_ms", "sigma_ms", "residual_ms", "label_ms", "peaks_ms"]


def run(binary, bench_filter, min_time):
    out = subprocess.run([binary, "--benchmark_filter=" + bench_filter, "--benchmark_min_time=" + str(min_time),
                          "--benchmark_format=json"], capture_output=True, text=True, check=True).stdout
    return {b["name"]: b for b in json.loads(out)["benchmarks"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="reference bench_stages binary")
    ap.add_argument("b", help="candidate bench_stages binary")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--filter", default="BM_Analyze$|BM_AnalyzeRealGe")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per benchmark and run")
    args = ap.parse_args()
    res = {"A": [], "B": []}
    for r in range(args.rounds):
        order = (("A", args.a), ("B", args.b)) if r % 2 == 0 else (("B", args.b), ("A", args.a))
        for tag, binary in order:
            res[tag].append(run(binary, args.filter, args.min_time))
    for name in res["A"][0]:
        print(name)
        for key in KEYS:
            if key not in res["A"][0][name]:
                continue
            va = [x[name][key] for x in res["A"]]
            vb = [x[name][key] for x in res["B"]]
            ratio = [b / a for a, b in zip(va, vb)]
            print(f"  {key:14s} A {st.median(va):7.2f} [{min(va):.2f}-{max(va):.2f}]  "
                  f"B {st.median(vb):7.2f} [{min(vb):.2f}-{max(vb):.2f}]  "
                  f"B/A {st.median(ratio):.3f} [{min(ratio):.3f}-{max(ratio):.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
