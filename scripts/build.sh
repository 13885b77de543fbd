#!/usr/bin/env bash
# Configures and builds laueproc into build/ (Release). Extra arguments go to cmake's configure
# step, e.g. scripts/build.sh -DLAUEPROC_CUDA=OFF. BUILD_DIR overrides the folder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
jobs="${JOBS:-$(nproc)}"
launcher=()
if command -v ccache >/dev/null 2>&1; then  # rebuilds of several checkouts share one cache
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "${launcher[@]}" "$@" >/dev/null
cmake --build "$build" -j "$jobs"
