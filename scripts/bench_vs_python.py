#!/usr/bin/env python3
"""Times laueproc's CPU pipeline against a straightforward scipy implementation of the same steps
(block-percentile background, hysteresis threshold, 8-connected labels, intensity moments) on the
same frames, in one run. Prints a table and writes JSON.

usage: scripts/bench_vs_python.py [--laueproc build/laueproc] [--baseline OTHER] [--frames 8] [--size 2048]
                                  [--repeat 5] [--json out.json]
laueproc's time is the median of --repeat runs of the whole command; --baseline times a second
laueproc binary in the same runs, interleaved (A B A B ...), for a speed ratio on a busy machine.
Needs numpy, scipy and h5py (Debian: python3-numpy python3-scipy python3-h5py).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from scipy import ndimage


def scipy_frame(img, block=32, q=30, k_high=6.0, k_low=3.0, min_pixels=4):
    """The reference steps, written the way a scientist would with numpy/scipy."""
    img = img.astype(np.float32)
    ny, nx = img.shape
    by, bx = ny // block, nx // block
    blocks = img[: by * block, : bx * block].reshape(by, block, bx, block).swapaxes(1, 2).reshape(by, bx, -1)
    coarse = np.percentile(blocks, q, axis=2)
    coarse = ndimage.median_filter(coarse, size=3, mode="nearest")
    coarse = ndimage.uniform_filter(coarse, size=3, mode="nearest")
    background = ndimage.zoom(coarse, (ny / by, nx / bx), order=1)
    residual = img - background
    sigma = 1.4826 * np.median(np.abs(residual[::4, ::4] - np.median(residual[::4, ::4])))
    low = residual > k_low * sigma
    labels, n = ndimage.label(low, structure=np.ones((3, 3)))
    if n == 0:
        return []
    seeds = ndimage.maximum(residual, labels, index=np.arange(1, n + 1)) > k_high * sigma
    npix = ndimage.sum(low, labels, index=np.arange(1, n + 1))
    keep = np.nonzero(seeds & (npix >= min_pixels))[0] + 1
    yy, xx = np.mgrid[0:ny, 0:nx]
    peaks = []
    w = np.where(low, residual, 0)
    for lab, sl in zip(range(1, n + 1), ndimage.find_objects(labels)):
        if lab not in keep:
            continue
        m = labels[sl] == lab
        wi = w[sl] * m
        s = wi.sum()
        x = (wi * xx[sl]).sum() / s
        y = (wi * yy[sl]).sum() / s
        mxx = (wi * (xx[sl] - x) ** 2).sum() / s
        myy = (wi * (yy[sl] - y) ** 2).sum() / s
        mxy = (wi * (xx[sl] - x) * (yy[sl] - y)).sum() / s
        l1, l2 = np.linalg.eigvalsh([[mxx, mxy], [mxy, myy]])[::-1]
        peaks.append((x, y, s, 2 * np.sqrt(max(l1, 0)), 2 * np.sqrt(max(l2, 0))))
    return peaks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--laueproc", default=os.path.join(os.path.dirname(__file__), "..", "build", "laueproc"))
    ap.add_argument("--baseline", default="", help="a second laueproc binary, timed interleaved")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs of each laueproc binary (median)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        scan = os.path.join(tmp, "scan.h5")
        subprocess.run([args.laueproc, "simulate", "--out", scan, "--grid", f"{args.frames}x1",
                        "--size", str(args.size), "--seed", "3", "--quiet"], check=True)
        with h5py.File(scan, "r") as f:
            frames = [f["/entry/data/data"][i] for i in range(args.frames)]  # in memory: time compute only

        t0 = time.perf_counter()
        n_scipy = sum(len(scipy_frame(fr)) for fr in frames)
        t_scipy = (time.perf_counter() - t0) / args.frames

        def laueproc_cmd(binary, out):
            for stale in (out, out + ".journal"):  # process refuses to replace results (any version)
                if os.path.exists(stale):
                    os.remove(stale)
            return [binary, "process", scan, "--out", out, "--threads", "1", "--backend", "cpu", "--quiet"]

        binaries = {"laueproc": args.laueproc}
        if args.baseline:
            binaries["baseline"] = args.baseline
        times = {name: [] for name in binaries}
        for name, binary in binaries.items():  # warm the page cache and the programs
            subprocess.run(laueproc_cmd(binary, os.path.join(tmp, name + ".h5")), check=True)
        for _ in range(args.repeat):
            for name, binary in binaries.items():
                t0 = time.perf_counter()
                subprocess.run(laueproc_cmd(binary, os.path.join(tmp, name + ".h5")), check=True)
                times[name].append((time.perf_counter() - t0) / args.frames)
        t_laueproc = float(np.median(times["laueproc"]))
        with h5py.File(os.path.join(tmp, "laueproc.h5"), "r") as f:
            n_laueproc = int(f["/peaks"].shape[0])

    result = {
        "frames": args.frames, "size": args.size,
        "scipy_s_per_frame": t_scipy, "laueproc_s_per_frame_1thread_end_to_end": t_laueproc,
        "speedup": t_scipy / t_laueproc, "peaks_scipy": n_scipy, "peaks_laueproc": n_laueproc,
        "laueproc_runs_s_per_frame": times["laueproc"],
    }
    if args.baseline:
        t_base = float(np.median(times["baseline"]))
        result.update({"baseline_s_per_frame": t_base, "baseline_runs_s_per_frame": times["baseline"],
                       "speedup_baseline": t_scipy / t_base, "laueproc_vs_baseline": t_base / t_laueproc})
    print(f"scipy (compute only)       {t_scipy * 1e3:9.1f} ms/frame  {n_scipy} peaks")
    print(f"laueproc 1 thread (e2e)    {t_laueproc * 1e3:9.1f} ms/frame  {n_laueproc} peaks")
    print(f"speed-up                   {t_scipy / t_laueproc:9.1f} x")
    if args.baseline:
        print(f"baseline 1 thread (e2e)    {result['baseline_s_per_frame'] * 1e3:9.1f} ms/frame  "
              f"({result['speedup_baseline']:.1f} x scipy; laueproc {result['laueproc_vs_baseline']:.2f} x faster)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
