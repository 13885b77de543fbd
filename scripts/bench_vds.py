#!/usr/bin/python3
"""Rank-0 gather vs per-rank shards joined by an HDF5 virtual dataset (VDS): what each costs.

Makes a /peaks table with the row type of `laueproc process` results (random full-precision
values, like measured peaks), splits it over --ranks shard files, either as contiguous blocks
(static hand-out: one VDS mapping per rank) or in runs of --run rows dealt round-robin (dynamic
hand-out: one mapping per run), and measures on this machine:
  - writing the rows once, gzip 4 + shuffle as the results file does (what rank 0 pays in the
    gather design, on one core; a VDS design pays it too, spread over the ranks),
  - joining the shards: creating the VDS file,
  - reading /peaks whole through the VDS vs from the one file,
  - the VDS file moved without its shards: what a reader then gets (HDF5 fills the missing
    sources with zeros and reports no error).
Times are CPU seconds of this process (a shared machine would distort wall times).
Usage: scripts/bench_vds.py [--peaks 2000000] [--ranks 8] [--run 480] [--laueproc build/laueproc]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np


def peak_dtype(laueproc, work):
    """The /peaks row type of a real results file."""
    subprocess.run([laueproc, "simulate", "--out", f"{work}/s.h5", "--grid", "1x1", "--size", "128", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([laueproc, "process", f"{work}/s.h5", "--out", f"{work}/r.h5", "--quiet"], check=True)
    with h5py.File(f"{work}/r.h5", "r") as f:
        return f["/peaks"].dtype


def random_rows(dtype, n, rng):
    rows = np.zeros(n, dtype=dtype)
    for name in dtype.names:
        kind = dtype[name].kind
        if kind == "f":
            rows[name] = rng.random(n) * 1000
        elif kind in "iu":
            rows[name] = rng.integers(0, 100, n)
    rows["frame"] = np.arange(n) // 60
    return rows


def write_table(path, name, rows):
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=rows, chunks=(4096,), maxshape=(None,), shuffle=True, compression="gzip",
                         compression_opts=4)


def timed(fn):
    """CPU seconds of this process (the machine may be shared: wall time would measure the others)."""
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peaks", type=int, default=2_000_000)
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--run", type=int, default=480, help="rows per hand-out in the dynamic split (8 frames x 60)")
    ap.add_argument("--laueproc", default=os.path.join(os.path.dirname(__file__), "..", "build", "laueproc"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="laueproc-bench-vds-")
    try:
        rng = np.random.default_rng(5)
        dtype = peak_dtype(os.path.abspath(args.laueproc), work)
        rows = random_rows(dtype, args.peaks, rng)
        n = args.peaks
        print(f"# {n} peak rows of {dtype.itemsize} bytes ({n * dtype.itemsize / 1e6:.0f} MB), {args.ranks} shards")

        t_gather, _ = timed(lambda: write_table(f"{work}/one.h5", "peaks", rows))
        print(f"write the rows once (gzip 4 + shuffle, one core): {t_gather:.2f} CPU s = "
              f"{t_gather / n * 1e6:.2f} us/peak")

        for split in ("static", "dynamic"):
            # which rows each shard holds, as (start, stop) runs in table order
            if split == "static":
                edges = [n * r // args.ranks for r in range(args.ranks + 1)]
                runs = [[(edges[r], edges[r + 1])] for r in range(args.ranks)]
            else:
                runs = [[] for _ in range(args.ranks)]
                for k, start in enumerate(range(0, n, args.run)):
                    runs[k % args.ranks].append((start, min(n, start + args.run)))
            t_shards = 0.0
            for r in range(args.ranks):
                part = np.concatenate([rows[a:b] for a, b in runs[r]]) if runs[r] else rows[:0]
                t, _ = timed(lambda: write_table(f"{work}/{split}-{r}.h5", "peaks", part))
                t_shards = max(t_shards, t)  # the ranks write at the same time

            def make_vds():
                layout = h5py.VirtualLayout(shape=(n,), dtype=dtype)
                for r in range(args.ranks):
                    size = sum(b - a for a, b in runs[r])
                    source = h5py.VirtualSource(f"{split}-{r}.h5", "peaks", shape=(size,))
                    offset = 0
                    for a, b in runs[r]:
                        layout[a:b] = source[offset:offset + (b - a)]
                        offset += b - a
                with h5py.File(f"{work}/{split}-vds.h5", "w") as f:
                    f.create_virtual_dataset("peaks", layout)
            t_vds, _ = timed(make_vds)
            mappings = sum(len(r) for r in runs)
            cwd = os.getcwd()
            os.chdir(work)  # relative source names resolve from here (and from the VDS file's folder)
            try:
                t_read_vds, via_vds = timed(lambda: h5py.File(f"{split}-vds.h5", "r")["peaks"][()])
                t_read_one, whole = timed(lambda: h5py.File("one.h5", "r")["peaks"][()])
            finally:
                os.chdir(cwd)
            assert via_vds.tobytes() == whole.tobytes(), "the VDS must read the same rows"
            print(f"{split}: {mappings} mappings; shards written in {t_shards:.2f} CPU s (slowest rank); "
                  f"VDS created in {t_vds * 1e3:.1f} CPU ms; read whole: VDS {t_read_vds:.2f} CPU s, "
                  f"one file {t_read_one:.2f} CPU s ({t_read_vds / t_read_one:.2f}x)")

        # The VDS file alone (copied away from its shards, or a shard deleted):
        os.makedirs(f"{work}/elsewhere")
        shutil.copy(f"{work}/static-vds.h5", f"{work}/elsewhere/results.h5")
        cwd = os.getcwd()
        os.chdir(f"{work}/elsewhere")
        try:
            with h5py.File("results.h5", "r") as f:
                alone = f["peaks"][()]
        except Exception as e:  # noqa: BLE001 -- report whatever HDF5 does
            print(f"VDS without its shards: error {e}")
        else:
            zeros = int(np.count_nonzero(alone["x"] == 0))
            print(f"VDS without its shards: read without error, {zeros} of {n} rows are zeros "
                  "(fill values): the results are silently gone")
        finally:
            os.chdir(cwd)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
