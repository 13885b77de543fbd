#!/usr/bin/env bash
# Checks the README's Python install the way a new user meets it: a fresh clone of this checkout's
# HEAD, `python3 -m venv v && v/bin/pip install .`, an import, then the pytest suite with the
# venv's interpreter (numpy from PyPI; tests needing h5py or the CLI skip). Needs PyPI and the
# packages of scripts/setup.sh. Not part of CI (about 3 minutes of compiling on 2 cores).
# Usage: scripts/check-python-install.sh [PYTHON]     (default: python3 on PATH)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${1:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$here" "$work/laueproc"
cd "$work/laueproc"
"$python" -m venv v
v/bin/pip install -q .
v/bin/python -c "import laueproc; f, t = laueproc.simulate_frame('gnd', seed=2, size=512); r = laueproc.analyze(f); \
assert not r.copied and r.summary['scenario'] == t['scenario']; print(laueproc.__version__, laueproc.git_commit, r)"
v/bin/pip install -q pytest
LAUEPROC_SOURCE_DIR="$work/laueproc" PYTHONDONTWRITEBYTECODE=1 v/bin/python -m pytest -q -p no:cacheprovider tests/python
