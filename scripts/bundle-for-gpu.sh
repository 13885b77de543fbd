#!/usr/bin/env bash
# Builds laueproc with CUDA (sm_90, Release) and gathers what a GPU machine without a compiler,
# a toolchain or network needs into gpu-bundle/ (git-ignored, < 60 MiB). bin/, lib/, plugins/ and
# compute-sanitizer/ travel packed in payload.tar.gz (gpu-check.sh unpacks it; nvCOMP alone is 25 MB):
#   bin/      laueproc, laueproc_gpu_tests, laueproc_e2e_tests, bench_cuda, bench_stages (stripped)
#   lib/      every shared library ldd resolves for them and for the HDF5 plugins, except the C
#             runtime, the loader and the NVIDIA driver's own (libcuda, libnvidia-*), which must
#             come from the machine (cudart is linked statically; cuFFT is loaded only if present)
#   plugins/  HDF5 filter plugins (bitshuffle/LZ4, LZ4, LZF, bzip2)
#   data/     tests/data of this checkout (the real Laue frame etc.: the e2e tests read it)
#   compute-sanitizer/  when this machine has it (the GPU image may have its own in /usr/local/cuda)
#   paths.env the build-time paths compiled into the tests (gpu-check.sh recreates them as links)
#   VERSION   git describe + commit + date of the bundle, nvcc
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

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLAUEPROC_CUDA=ON -DLAUEPROC_BENCHMARKS=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 "${launcher[@]}" >/dev/null
if ! grep -q '^nvcomp_DIR:PATH=/' "$BUILD/CMakeCache.txt"; then
  echo "bundle: warning: built without nvCOMP (scripts/setup.sh fetches it into .whl/): device decoding will not be checked on the GPU" >&2
fi
cmake --build "$BUILD" -j"$JOBS" --target laueproc laueproc_gpu_tests laueproc_e2e_tests bench_cuda bench_stages

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib" "$OUT/plugins" "$OUT/data"
BINS=("$BUILD/laueproc" "$BUILD/tests/laueproc_gpu_tests" "$BUILD/tests/laueproc_e2e_tests"
      "$BUILD/benchmarks/bench_cuda" "$BUILD/benchmarks/bench_stages")
for b in "${BINS[@]}"; do
  if [ -x "$b" ]; then cp "$b" "$OUT/bin/"; else echo "bundle: error: $b missing" >&2; exit 1; fi
done
strip --strip-unneeded "$OUT"/bin/* 2>/dev/null || true

# Shared libraries: everything ldd resolves, except what must come from the machine itself.
skip='^(libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|ld-linux|linux-vdso|libcuda\.so|libnvidia)'
copy_deps() {  # FILE...: copies the libraries they need into lib/
  for f in "$@"; do
    if ldd "$f" | grep -q "not found"; then
      echo "bundle: error: $f needs a library this machine lacks:" >&2
      ldd "$f" | grep "not found" >&2
      exit 1
    fi
    ldd "$f" | awk '/=> \// {print $1, $3}'
  done | sort -u | while read -r name path; do
    if [[ $name =~ $skip ]] || [ -e "$OUT/lib/$name" ]; then continue; fi
    cp -L "$path" "$OUT/lib/$name"
  done
}
copy_deps "$OUT"/bin/*
# HDF5 plugins (dlopened, so ldd of the programs does not list them or their own deps).
for p in /usr/lib/x86_64-linux-gnu/hdf5/serial/plugins/*; do
  [ -e "$p" ] || continue
  cp -L "$p" "$OUT/plugins/"
done
copy_deps "$OUT"/plugins/*
strip --strip-unneeded "$OUT"/lib/* "$OUT"/plugins/* 2>/dev/null || true
[ -e "$OUT/plugins/libh5bshuf.so" ] || echo "bundle: warning: no bitshuffle HDF5 plugin: the bitshuffle/LZ4 stack cannot be written" >&2
# The repository's own test data (never ../shared).
cp -r "$ROOT/tests/data/." "$OUT/data/"
# compute-sanitizer: bundled when this machine has it (and it is small enough).
for cs in /usr/local/cuda/compute-sanitizer /usr/local/cuda/extras/compute-sanitizer; do
  if [ -d "$cs" ] && [ "$(du -sm "$cs" | cut -f1)" -lt 40 ]; then cp -r "$cs" "$OUT/compute-sanitizer"; break; fi
done
[ -d "$OUT/compute-sanitizer" ] || echo "bundle: note: no compute-sanitizer here; gpu-check uses the GPU machine's if it has one" >&2
# Pack what compresses (programs, host libraries) so the bundle stays far under the carry limit.
tar czf "$OUT/payload.tar.gz" -C "$OUT" bin lib plugins $( [ -d "$OUT/compute-sanitizer" ] && echo compute-sanitizer)
rm -rf "$OUT/bin" "$OUT/lib" "$OUT/plugins" "$OUT/compute-sanitizer"
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
  echo "cuda_architectures=90"
} >"$OUT/VERSION"
SIZE=$(du -sm "$OUT" | cut -f1)
echo "bundle: $OUT, ${SIZE} MiB"
du -sh "$OUT"/* | sed 's/^/  /'
if [ "$SIZE" -ge 60 ]; then
  echo "bundle: error: ${SIZE} MiB is over the 60 MiB budget (the device tool carries 64 MiB)" >&2
  exit 1
fi
