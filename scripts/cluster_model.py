#!/usr/bin/env python3
"""Throughput model of `laueproc process` on N GPUs over several nodes (MPI, one rank per GPU).

The aggregate rate is the smallest of four limits:
  compute   N x the per-GPU rate (--gpu-rate, frames/s of one rank with its GPU),
  storage   the parallel file system's read bandwidth / the bytes stored per frame,
  network   nodes x the per-node read bandwidth / the bytes stored per frame,
  writer    the frames/s rank 0's one result writer takes (--writer-peaks-per-s / peaks per frame).
It prints, for each N, the read bandwidth each GPU needs (raw and as stored), the aggregate
rate, which limit binds, and the time to reprocess --frames frames.

No GPU figure of laueproc exists yet: --gpu-rate defaults to an ASSUMPTION (2000 frames/s of
2048 x 2048 per GPU, the order of Diamond's fast-feedback-service, ~2,150 frames/s at 2048^2, and
below the ~4,000-6,500 frames/s of raw PCIe Gen5; docs/anchors.md). Measure it on a GPU machine
(`laueproc bench --backend cuda`, or `laueproc process ... --backend cuda` frames/s) and pass it:
  scripts/cluster_model.py --gpu-rate 3100 --writer-peaks-per-s 145000
--writer-peaks-per-s comes from build/benchmarks/bench_sink (peaks_per_s of BM_SinkAdd).
"""
import argparse
import math


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--gpu-rate", type=float, default=2000.0, help="frames/s of one GPU rank (ASSUMED default)")
    ap.add_argument("--frame-mb", type=float, default=2048 * 2048 * 2 / 1e6, help="raw MB per frame (uint16)")
    ap.add_argument("--stored-ratio", type=float, default=2.5,
                    help="raw / stored bytes (compression as stored; 1 = uncompressed; ASSUMED 2.5)")
    ap.add_argument("--fs-gbs", type=float, default=20.0, help="parallel file system read bandwidth, GB/s")
    ap.add_argument("--node-gbs", type=float, default=12.5, help="read bandwidth of one node (100 Gb/s link)")
    ap.add_argument("--gpus-per-node", type=int, default=4)
    ap.add_argument("--peaks-per-frame", type=float, default=60.0)
    ap.add_argument("--writer-peaks-per-s", type=float, default=145000.0,
                    help="peaks/s rank 0's writer takes (bench_sink BM_SinkAdd, CPU time)")
    ap.add_argument("--frames", type=float, default=1e6, help="frames to reprocess")
    ap.add_argument("--gpus", default="1,2,4,8,16,32,64,128")
    args = ap.parse_args()

    stored_mb = args.frame_mb / args.stored_ratio
    storage = args.fs_gbs * 1e3 / stored_mb
    writer = args.writer_peaks_per_s / args.peaks_per_frame
    print(f"# per GPU: {args.gpu_rate:.0f} frames/s (assumed unless measured) = "
          f"{args.gpu_rate * args.frame_mb / 1e3:.2f} GB/s raw, {args.gpu_rate * stored_mb / 1e3:.2f} GB/s as stored "
          f"(x{args.stored_ratio:g}); file system {args.fs_gbs:g} GB/s = {storage:.0f} frames/s; node link "
          f"{args.node_gbs:g} GB/s; writer {writer:.0f} frames/s ({args.peaks_per_frame:g} peaks/frame)")
    print(f"# the file system saturates at {storage / args.gpu_rate:.1f} GPUs; the writer at "
          f"{writer / args.gpu_rate:.1f} GPUs")
    print("| GPUs | nodes | compute frames/s | storage | network | writer | aggregate frames/s | bound by | "
          f"read GB/s in all (raw / stored) | time for {args.frames:.0e} frames |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in (int(g) for g in args.gpus.split(",")):
        nodes = math.ceil(n / args.gpus_per_node)
        limits = {
            "compute": n * args.gpu_rate,
            "storage": storage,
            "network": nodes * args.node_gbs * 1e3 / stored_mb,
            "writer": writer,
        }
        bound = min(limits, key=limits.get)
        rate = limits[bound]
        seconds = args.frames / rate
        print(f"| {n} | {nodes} | {limits['compute']:.0f} | {limits['storage']:.0f} | {limits['network']:.0f} | "
              f"{limits['writer']:.0f} | {rate:.0f} | {bound} | {rate * args.frame_mb / 1e3:.1f} / "
              f"{rate * stored_mb / 1e3:.1f} | {seconds / 60:.1f} min |")


if __name__ == "__main__":
    main()
