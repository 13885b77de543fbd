#!/usr/bin/env bash
# Installs what is missing, builds (CUDA on when nvcc is present) and runs the whole test suite
# through ctest. GPU tests skip themselves when no CUDA device answers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh" --no-build
"$here/scripts/build.sh" "$@"
build="${BUILD_DIR:-$here/build}"
cd "$build"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 600
