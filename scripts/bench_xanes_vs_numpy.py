#!/usr/bin/env python3
"""White-line fits per pixel: laueproc against a vectorised numpy implementation of the same method
(linear interpolation onto a 0.1 eV grid, maximum, cubic least squares over +-3 eV around it,
maximum of the polynomial), on the same simulated 15-energy stack, in one run. Prints a table,
writes JSON.

usage: scripts/bench_xanes_vs_numpy.py [--laueproc build/laueproc] [--pixels 1048576] [--json out.json]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np


def numpy_white_lines(energies, data, order=3, half=3.0, step=0.1):
    """data: (n_energies, n_pixels) float32. Returns the white-line energy per pixel."""
    e = np.asarray(energies, dtype=np.float64)
    grid = np.arange(e[0], e[-1] + step / 2, step)
    # Interpolation onto the grid as a matrix: fine = L @ samples.
    idx = np.clip(np.searchsorted(e, grid, side="right") - 1, 0, len(e) - 2)
    t = (grid - e[idx]) / (e[idx + 1] - e[idx])
    L = np.zeros((len(grid), len(e)))
    L[np.arange(len(grid)), idx] = 1 - t
    L[np.arange(len(grid)), idx + 1] += t
    # The maximum of a piecewise-linear interpolant sits on a sample.
    k = np.argmax(data, axis=0)
    out = np.full(data.shape[1], np.nan)
    for kk in range(len(e)):
        sel = np.nonzero(k == kk)[0]
        if sel.size == 0:
            continue
        lo, hi = e[kk] - half, e[kk] + half
        rows = np.nonzero((grid >= lo - 1e-9) & (grid <= hi + 1e-9))[0]
        c0, h = 0.5 * (grid[rows[0]] + grid[rows[-1]]), 0.5 * (grid[rows[-1]] - grid[rows[0]])
        tt = (grid[rows] - c0) / h
        V = np.vander(tt, order + 1, increasing=True)
        P = np.linalg.pinv(V) @ L[rows]  # coefficients = P @ samples
        coef = P @ data[:, sel]          # (order+1, n)
        # Cubic: maximum at a root of the derivative inside [-1, 1], else at an end.
        a, b, c = 3 * coef[3], 2 * coef[2], coef[1]
        disc = np.sqrt(np.maximum(b * b - 4 * a * c, 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r1 = np.where(a != 0, (-b + disc) / (2 * a), -c / b)
            r2 = np.where(a != 0, (-b - disc) / (2 * a), np.nan)
        cand = np.stack([np.full_like(r1, -1.0), np.full_like(r1, 1.0), r1, r2])
        cand = np.where((cand >= -1) & (cand <= 1), cand, np.nan)
        vals = coef[0] + coef[1] * cand + coef[2] * cand**2 + coef[3] * cand**3
        best = np.nanargmax(np.where(np.isnan(vals), -np.inf, vals), axis=0)
        out[sel] = c0 + h * cand[best, np.arange(sel.size)]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--laueproc", default=os.path.join(os.path.dirname(__file__), "..", "build", "laueproc"))
    ap.add_argument("--grid", default="1024x1024")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = os.path.join(tmp, "stack.h5")
        subprocess.run([args.laueproc, "xanes", "--simulate", stack, "--grid", args.grid, "--particles", "6"],
                       check=True, stdout=subprocess.DEVNULL)
        with h5py.File(stack, "r") as f:
            data = f["/exchange/data"][()].astype(np.float32)
            energies = f["/exchange/energy"][()]
        n = data.shape[1] * data.shape[2]
        flat = data.reshape(data.shape[0], n)
        t0 = time.perf_counter()
        wl_numpy = numpy_white_lines(energies, flat)
        t_numpy = time.perf_counter() - t0

        out = subprocess.run([args.laueproc, "xanes", stack, "--out", os.path.join(tmp, "x.h5"),
                              "--threads", str(args.threads), "--mask-source", "none"],
                             check=True, capture_output=True, text=True).stdout
        t_laueproc = float(re.search(r"fit ([0-9.]+) s", out).group(1))
        with h5py.File(os.path.join(tmp, "x.h5"), "r") as f:
            wl = f["/xanes/white_line_ev"][()].reshape(-1)
    both = np.isfinite(wl) & np.isfinite(wl_numpy)
    diff = np.abs(wl[both] - wl_numpy[both])
    result = {"spectra": n, "energies": int(len(energies)), "threads_laueproc": args.threads,
              "numpy_spectra_per_s": n / t_numpy, "laueproc_spectra_per_s": n / t_laueproc,
              "speedup": t_numpy / t_laueproc, "median_abs_diff_ev": float(np.median(diff)),
              "p99_abs_diff_ev": float(np.percentile(diff, 99))}
    print(f"numpy (1 core, vectorised)   {n / t_numpy / 1e6:8.2f} M spectra/s")
    print(f"laueproc ({args.threads} threads)         {n / t_laueproc / 1e6:8.2f} M spectra/s")
    print(f"speed-up                     {t_numpy / t_laueproc:8.1f} x   (|dE| median {np.median(diff):.2g} eV, p99 {np.percentile(diff, 99):.2g} eV)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
