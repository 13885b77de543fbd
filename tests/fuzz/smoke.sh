#!/usr/bin/env bash
# One fuzz target for a few seconds, as the CI smoke run (ctest -L fuzz): replays the committed
# corpus (seeds and regression-* inputs of fixed crashes), then mutates from a fixed seed into a
# scratch corpus, for at most SECONDS and RUNS inputs (the same inputs on every machine: a fast
# one does not wander further, into HDF5's own bugs, see README.md). Exit 0: nothing found;
# otherwise the crash input is in WORK/ (libFuzzer says).
# Usage: smoke.sh FUZZER CORPUS WORK SECONDS [RUNS]
set -euo pipefail
fuzzer=$1 corpus=$2 work=$3 seconds=$4 runs=${5:--1}
rm -rf "$work"
mkdir -p "$work/corpus"
# The readers hand damaged files to HDF5 and its filter plugins (not ours, not instrumented),
# which allocate what a header claims (8 GiB seen): a request over 2 GiB gets NULL, as on a
# machine without that much memory, and they report the failure (without the cap ASan spent 28 s
# poisoning such a block: a false timeout; the program itself answers in 55 ms). laueproc's own
# buffers stay far below (frames up to 2^28 pixels). HDF5 1.10.8 leaks a little on its error
# paths, so leaks are only checked by the targets without HDF5.
options=allocator_may_return_null=1:max_allocation_size_mb=2048
case $(basename "$fuzzer") in fuzz_h5_file|fuzz_chunk_decoders) options+=:detect_leaks=0 ;; esac
export ASAN_OPTIONS=$options UBSAN_OPTIONS=print_stacktrace=1 LAUEPROC_FUZZ_TMP=${LAUEPROC_FUZZ_TMP:-$work}
exec "$fuzzer" -seed=1 -max_total_time="$seconds" -runs="$runs" -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=1048576 \
  -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$corpus"
