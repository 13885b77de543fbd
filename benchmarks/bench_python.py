#!/usr/bin/env python3
"""What the Python module adds to the C++ engine (benchmarks/RESULTS.md, "Python API").

1. laueproc.analyze(frame) against the C++ calls it makes (CpuFrameAnalyzer::analyze + the frame
   summary) on the same 2048 x 2048 frame, in the same process, interleaved (A, B, A, B ...):
   overhead = median(A) / median(B) - 1; and, as a stable figure on a busy machine, the Python
   layer's fixed cost per call (on a 16 x 16 frame, Python time minus C++ time, 2000 calls).
2. laueproc.analyze_batch(stack) frames/s on 1 and 2 threads, interleaved.

Usage: PYTHONPATH=build/python /usr/bin/python3 benchmarks/bench_python.py [--rounds 15] [--frames 8]
Prints a table and one JSON line.
"""
import argparse
import json
import statistics
import time

import numpy as np

import laueproc


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()

    frame, _ = laueproc.simulate_frame("mixed", seed=1, size=args.size)
    laueproc.analyze(frame)  # warm-up: the cached analyzer's scratch buffers
    laueproc._core._time_cpp_analyze(frame, 1)
    cpp, py = [], []
    for _ in range(args.rounds):
        cpp.append(laueproc._core._time_cpp_analyze(frame, 1)[0])
        t0 = time.perf_counter()
        r = laueproc.analyze(frame)
        py.append(time.perf_counter() - t0)
    assert not r.copied
    overhead = statistics.median(py) / statistics.median(cpp) - 1
    pairs = sorted(p / c - 1 for p, c in zip(py, cpp))
    print("analyze %dx%d, %d peaks: C++ %.1f ms, Python %.1f ms (medians of %d, interleaved)"
          % (args.size, args.size, len(r.peaks), 1e3 * statistics.median(cpp), 1e3 * statistics.median(py), args.rounds))
    print("  overhead %.2f %% (per-pair quartiles %.2f .. %.2f %%)"
          % (100 * overhead, 100 * pairs[len(pairs) // 4], 100 * pairs[3 * len(pairs) // 4]))

    # The Python layer's own cost does not grow with the frame (uint16 is read in place): measure it
    # on a tiny frame, where the analysis itself is negligible, many times over.
    tiny = np.ascontiguousarray(frame[:16, :16])
    fixed = []
    for _ in range(2000):
        c = laueproc._core._time_cpp_analyze(tiny, 1)[0]
        t0 = time.perf_counter()
        laueproc.analyze(tiny)
        fixed.append(time.perf_counter() - t0 - c)
    fixed_s = statistics.median(fixed)
    print("  fixed cost of the Python layer: %.1f us per call = %.3f %% of the C++ time on this frame"
          % (1e6 * fixed_s, 100 * fixed_s / statistics.median(cpp)))

    stack = np.stack([laueproc.simulate_frame(s, seed=i, size=args.size)[0]
                      for i, s in zip(range(args.frames), ["defect_free", "gnd", "tilt_boundary", "mixed", "stacking"] * 8)])
    rates = {1: [], 2: []}
    for _ in range(3):
        for threads in (1, 2):
            t0 = time.perf_counter()
            laueproc.analyze_batch(stack, threads=threads, backend="cpu")
            rates[threads].append(args.frames / (time.perf_counter() - t0))
    for threads in (1, 2):
        print("analyze_batch %d frames, %d thread(s): %.2f frames/s (runs: %s)"
              % (args.frames, threads, statistics.median(rates[threads]),
                 ", ".join("%.2f" % x for x in rates[threads])))
    print(json.dumps({
        "size": args.size, "peaks": int(len(r.peaks)), "cpp_ms": 1e3 * statistics.median(cpp),
        "python_ms": 1e3 * statistics.median(py), "overhead_percent": 100 * overhead,
        "fixed_cost_us": 1e6 * fixed_s, "fixed_cost_percent": 100 * fixed_s / statistics.median(cpp),
        "batch_frames_per_s_1_thread": statistics.median(rates[1]),
        "batch_frames_per_s_2_threads": statistics.median(rates[2]),
        "version": laueproc.__version__, "commit": laueproc.git_commit}))


if __name__ == "__main__":
    main()
