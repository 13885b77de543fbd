#!/usr/bin/env bash
# Installs laueproc's build and run dependencies from Debian packages (idempotent),
# then configures and builds into build/.  Usage: scripts/setup.sh [--no-build]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(
  build-essential cmake pkg-config git
  libhdf5-dev hdf5-tools hdf5-filter-plugin bitshuffle zlib1g-dev liblz4-dev libdeflate-dev libisal-dev libzstd-dev
  libboost-program-options-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang libclang-rt-14-dev
  python3 python3-numpy python3-h5py python3-hdf5plugin python3-matplotlib python3-scipy python3-silx chromium
  python3-dev python3-venv python3-pytest pybind11-dev
  openmpi-bin libopenmpi-dev slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# nvCOMP (optional; GPU decoding of compressed chunks): NVIDIA's PyPI wheel, downloaded and
# unpacked into the git-ignored .whl/ (the system Python is not touched). Only where CUDA is.
nvcomp_wheel="nvidia-libnvcomp-cu13==6.0.0.12"
if { command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; } &&
   [ ! -f "$here/.whl/nvcomp/nvidia/libnvcomp/include/nvcomp.h" ]; then
  if python3 -m pip download "$nvcomp_wheel" --no-deps -q -d "$here/.whl" >/dev/null 2>&1 &&
     python3 -m zipfile -e "$here"/.whl/nvidia_libnvcomp_cu13-*.whl "$here/.whl/nvcomp"; then
    echo "setup: nvCOMP unpacked into .whl/nvcomp" >&2
  else
    echo "setup: nvCOMP wheel not fetched: compressed chunks will be decoded on the host" >&2
  fi
fi

[ "${1:-}" = "--no-build" ] && exit 0
"$here/scripts/build.sh"
