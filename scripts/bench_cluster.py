#!/usr/bin/env python3
"""Strong scaling of `laueproc process` over MPI ranks on this machine (CPU path), and static
blocks vs dynamic hand-out on an uneven scan, with the single-process baseline in the same run.

Builds two per-frame-file scans with `laueproc simulate`: EVEN (every frame stored raw) and
UNEVEN (the first half of the frames gzip-compressed, so they cost about twice as much to read,
the second half raw: what a beamtime where compression was switched on half-way looks like).
Then runs each configuration in turn, round after round (interleaved, so load from other work
on the machine hits them alike), and prints median wall time, spread (min-max) and the ratio to
the single-process baseline of the same scan. Every run's peaks.csv and frames.csv must equal
the baseline's byte for byte (the script fails otherwise).

On a shared machine wall times measure the other work as much as ours, so each MPI run also
reports every rank's CPU seconds (its share of the work, little affected by other load): the
busiest rank's CPU time is the run's time on dedicated cores (makespan), and max/mean over the
ranks is the load imbalance that static blocks suffer on the uneven scan.

Usage: scripts/bench_cluster.py [--laueproc build/laueproc] [--grid 8x8] [--size 768]
                                [--rounds 3] [--json out.json]
MPI runs as root need OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (set here).
"""
import argparse
import filecmp
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


RANK_CPU = re.compile(r"rank \d+ of \d+ \([^)]*\): \d+ frames in [\d.]+ s \([\d.]+ frames/s\), CPU ([\d.]+) s")


def run(cmd, env=None):
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - t0
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout}")
    return wall, cpu, res.stdout


def simulate(laueproc, work, grid, size):
    """EVEN and UNEVEN list files over the same simulated pixels."""
    common = ["--layout", "files", "--grid", grid, "--size", str(size), "--seed", "31", "--quiet"]
    for comp in ("gzip", "none"):
        run([laueproc, "simulate", "--out", os.path.join(work, comp)] + common + ["--compression", comp])
    names = sorted(n for n in os.listdir(os.path.join(work, "none")) if n.endswith(".h5"))
    with open(os.path.join(work, "even.txt"), "w") as f:
        f.writelines(f"none/{n}\n" for n in names)
    with open(os.path.join(work, "uneven.txt"), "w") as f:
        f.writelines(f"{'gzip' if i < len(names) // 2 else 'none'}/{n}\n" for i, n in enumerate(names))
    return len(names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--laueproc", default=os.path.join(os.path.dirname(__file__), "..", "build", "laueproc"))
    ap.add_argument("--grid", default="8x8")
    ap.add_argument("--size", type=int, default=768)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args()
    laueproc = os.path.abspath(args.laueproc)
    if shutil.which("mpirun") is None:
        sys.exit("mpirun not found (apt-get install openmpi-bin)")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    work = tempfile.mkdtemp(prefix="laueproc-bench-cluster-")
    try:
        n = simulate(laueproc, work, args.grid, args.size)
        mpi = ["mpirun", "--bind-to", "none", "-n"]
        configs = [  # (name, command prefix, extra options)
            ("1 process, 1 thread", [laueproc], ["--threads", "1"]),
            ("1 process, 2 threads", [laueproc], ["--threads", "2"]),
            ("mpirun -n 1", mpi + ["1", laueproc], ["--threads", "1"]),
            ("mpirun -n 2, static", mpi + ["2", laueproc], ["--threads", "1", "--distribute", "static"]),
            ("mpirun -n 2, dynamic", mpi + ["2", laueproc], ["--threads", "1", "--distribute", "dynamic"]),
            ("mpirun -n 3 (oversubscribed), dynamic", mpi + ["3", laueproc], ["--threads", "1"]),
        ]
        times = {(scan, name): [] for scan in ("even", "uneven") for name, _, _ in configs}
        cpus = {key: [] for key in times}
        busiest = {key: [] for key in times}    # CPU s of the busiest rank (the whole process alone)
        imbalance = {key: [] for key in times}  # busiest rank / mean rank
        for r in range(args.rounds):
            for scan in ("even", "uneven"):
                for k, (name, prefix, extra) in enumerate(configs):
                    out = os.path.join(work, f"{scan}-{k}-{r}")
                    wall, cpu, said = run(prefix + ["process", os.path.join(work, f"{scan}.txt"), "--out",
                                                    out + ".h5", "--csv", out] + extra, env)
                    times[(scan, name)].append(wall)
                    cpus[(scan, name)].append(cpu)
                    ranks = [float(c) for c in RANK_CPU.findall(said)]
                    busiest[(scan, name)].append(max(ranks) if ranks else cpu)
                    imbalance[(scan, name)].append(max(ranks) / statistics.mean(ranks) if ranks else 1.0)
                    ref = os.path.join(work, f"{scan}-0-0")
                    for csv in ("peaks.csv", "frames.csv"):
                        if not filecmp.cmp(os.path.join(ref, csv), os.path.join(out, csv), shallow=False):
                            sys.exit(f"{name} on {scan}: {csv} differs from the single-process run")
                    if not (r == 0 and k == 0):
                        shutil.rmtree(out)
                        os.remove(out + ".h5")
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
        print(f"# {n} frames of {args.size}x{args.size}, {args.rounds} rounds, {platform.node()}, "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        print("| scan | configuration | wall s (median, min-max) | vs 1 process, 1 thread | CPU s, all | "
              "CPU s, busiest rank (min-max) | speed-up on dedicated cores | imbalance max/mean |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for scan in ("even", "uneven"):
            base = statistics.median(times[(scan, configs[0][0])])
            base_cpu = statistics.median(busiest[(scan, configs[0][0])])
            for name, _, _ in configs:
                t = times[(scan, name)]
                m = statistics.median(t)
                b = busiest[(scan, name)]
                print(f"| {scan} | {name} | {m:.2f} ({min(t):.2f}-{max(t):.2f}) | {base / m:.2f}x | "
                      f"{statistics.median(cpus[(scan, name)]):.2f} | {statistics.median(b):.2f} "
                      f"({min(b):.2f}-{max(b):.2f}) | {base_cpu / statistics.median(b):.2f}x | "
                      f"{statistics.median(imbalance[(scan, name)]):.2f} |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"frames": n, "size": args.size, "rounds": args.rounds,
                           "times": {f"{s}|{c}": v for (s, c), v in times.items()},
                           "cpu": {f"{s}|{c}": v for (s, c), v in cpus.items()},
                           "busiest_rank_cpu": {f"{s}|{c}": v for (s, c), v in busiest.items()},
                           "imbalance": {f"{s}|{c}": v for (s, c), v in imbalance.items()}}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
