#!/usr/bin/env bash
# Builds laueproc with CUDA (sm_90, Release) and gathers what a GPU machine without a compiler
# toolchain setup or network needs into gpu-bundle/ (git-ignored, < 60 MiB):
#   bin/      laueproc, laueproc_gpu_tests, laueproc_e2e_tests, bench_cuda, bench_stages (stripped)
#   lib/      every shared library ldd resolves outside the C runtime (libhdf5, libsz, libaec, ...)
#   plugins/  HDF5 filter plugins (bitshuffle, ...)
#   data/     a copy of the repository's test data (tests/data) for the e2e tests
#   paths.env the build-time paths compiled into the tests (gpu-check.sh recreates them)
#   VERSION   git describe + commit + date of the bundle
#   scripts/  the Python helpers the program runs (report.py)
#   gpu-check.sh
# Usage: scripts/bundle-for-gpu.sh            (BUILD_DIR=build-gpu by default; JOBS=1)
# Then, with the device tool: carry ["gpu-bundle"], command "bash gpu-bundle/gpu-check.sh $OUT".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-gpu}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
JOBS=${JOBS:-1}
OUT=$ROOT/gpu-bundle

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLAUEPROC_CUDA=ON -DLAUEPROC_BENCHMARKS=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target laueproc laueproc_gpu_tests laueproc_e2e_tests bench_cuda bench_stages

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/plugins" "$OUT/data"
BINS=("$BUILD/laueproc" "$BUILD/tests/laueproc_gpu_tests" "$BUILD/tests/laueproc_e2e_tests"
      "$BUILD/benchmarks/bench_cuda" "$BUILD/benchmarks/bench_stages")
for b in "${BINS[@]}"; do
  if [ -x "$b" ]; then cp "$b" "$OUT/bin/"; else echo "bundle: warning: $b missing" >&2; fi
done
strip --strip-unneeded "$OUT"/bin/* 2>/dev/null || true

# Shared libraries: all that ldd resolves, except the C runtime and the loader (those must come
# from the machine itself). libstdc++/libgcc_s are copied: the device image may be older.
skip='^(libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|ld-linux|linux-vdso|libcuda\.so|libnvidia)'
for b in "$OUT"/bin/*; do
  ldd "$b" | awk '/=> \// {print $1, $3}'
done | sort -u | while read -r name path; do
  if [[ $name =~ $skip ]]; then continue; fi
  cp -L "$path" "$OUT/lib/$name"
done
# HDF5 plugins (the plugin loader dlopens them, so ldd does not list their own deps: add them).
for p in /usr/lib/x86_64-linux-gnu/hdf5/serial/plugins/*; do
  [ -e "$p" ] || continue
  cp -L "$p" "$OUT/plugins/"
  ldd "$p" | awk '/=> \// {print $1, $3}' | while read -r name path; do
    if [[ $name =~ $skip ]] || [ -e "$OUT/lib/$name" ]; then continue; fi
    cp -L "$path" "$OUT/lib/$name"
  done
done
strip --strip-unneeded "$OUT"/lib/* "$OUT"/plugins/* 2>/dev/null || true
cp -r "$ROOT/tests/data/." "$OUT/data/"
# compute-sanitizer: the device image has the CUDA toolkit; bundle ours only if it exists here.
for cs in /usr/local/cuda/compute-sanitizer /usr/local/cuda/extras/compute-sanitizer; do
  if [ -d "$cs" ] && [ "$(du -sm "$cs" | cut -f1)" -lt 40 ]; then cp -r "$cs" "$OUT/compute-sanitizer"; break; fi
done
mkdir -p "$OUT/scripts"  # laueproc demo/report run scripts/report.py (LAUEPROC_SCRIPTS)
cp "$ROOT"/scripts/*.py "$OUT/scripts/" 2>/dev/null || true
cp "$ROOT/scripts/gpu-check.sh" "$OUT/gpu-check.sh"
chmod +x "$OUT/gpu-check.sh"
{
  echo "BUILD_DIR=$BUILD"
  echo "TEST_DATA_DIR=$ROOT/tests/data"
} >"$OUT/paths.env"
{
  echo "describe=$(git -C "$ROOT" describe --always --dirty --tags 2>/dev/null || echo unknown)"
  echo "commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "bundled=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nvcc=$(/usr/local/cuda/bin/nvcc --version 2>/dev/null | tail -1)"
} >"$OUT/VERSION"
SIZE=$(du -sm "$OUT" | cut -f1)
echo "bundle: $OUT, ${SIZE} MiB"
du -sh "$OUT"/* | sed 's/^/  /'
if [ "$SIZE" -ge 60 ]; then
  echo "bundle: error: ${SIZE} MiB is over the 60 MiB budget" >&2
  exit 1
fi
