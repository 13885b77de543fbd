#!/bin/bash
# Submits process-array.sbatch (one task per shard) and merge.sbatch, which starts when every
# shard succeeded. Usage: scripts/slurm/submit-array.sh [sbatch options for both jobs]
#   SHARDS=N  overrides the array size of process-array.sbatch (tasks 0 .. N-1).
# SCAN, OUT, CSV, LAUEPROC, OPTIONS are passed on through the environment (sbatch --export=ALL).
# Prints the two job ids: "<array job> <merge job>".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
array_opts=()
if [ -n "${SHARDS:-}" ]; then array_opts=(--array="0-$((SHARDS - 1))"); fi
array=$(sbatch --parsable "${array_opts[@]}" "$@" "$here/process-array.sbatch")
array=${array%%;*}  # "id;cluster" on federated sites
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes "$@" "$here/merge.sbatch")
echo "$array ${merge%%;*}"
