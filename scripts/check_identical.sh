#!/usr/bin/env bash
# Runs two laueproc binaries (a reference build and a candidate) on the same scans with the same
# options and compares their peaks.csv and frames.csv byte for byte (17 significant digits, so
# any change of a float shows). Scans: every simulated scenario at 256^2, 1000x777 and 2048^2
# (several seeds, dead row and zero pixels included) and the real Ge frame of tests/data; option
# sets: both background methods, --flat-noise, a static mask, no dead-line / zero masking, other
# block and threshold settings. Used to prove that a speed change leaves the results unchanged.
#
# usage: scripts/check_identical.sh REFERENCE_BINARY CANDIDATE_BINARY [WORK_DIR]
#   WORK_DIR (default /tmp/laueproc-check) keeps the simulated scans between runs.
# Exit 0: all identical; 1: some differ (listed); 2: usage.
set -euo pipefail
if [[ $# -lt 2 || ! -x "$1" || ! -x "$2" ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
ref="$(realpath "$1")"
new="$(realpath "$2")"
work="${3:-/tmp/laueproc-check}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ge="$here/tests/data/laue/Ge_blanc_0000_as34ide.h5"
mkdir -p "$work/scans"

# A static mask: scattered bad pixels, a bad 9x5 patch and a bad half column (P5 PGM).
write_mask() {  # width height path
  python3 - "$@" <<'EOF'
import random, sys
w, h, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(w * 7919 + h)
px = bytearray(w * h)
for _ in range(w * h // 500):
    px[rng.randrange(w * h)] = 1
for y in range(h // 3, h // 3 + 5):
    for x in range(w // 2, w // 2 + 9):
        px[y * w + x] = 255
for y in range(h // 2):
    px[y * w + w // 5] = 1
with open(path, "wb") as f:
    f.write(b"P5\n%d %d\n255\n" % (w, h) + bytes(px))
EOF
}

scans=()
simulate() {  # name size-args seed scenario frames
  local f="$work/scans/$1/$1.h5"  # a folder each: simulate writes truth CSVs beside the scan, never over others
  if [[ ! -f "$f" ]]; then
    mkdir -p "$work/scans/$1"
    "$ref" simulate --out "$f" $2 --seed "$3" --scenario "$4" --grid "$5x1" --threads 2 --quiet >/dev/null
  fi
  scans+=("$f")
}
seed=11
for scenario in defect_free gnd tilt_boundary mixed stacking mixed-all; do
  simulate "s256_$scenario" "--size 256" $((seed++)) "$scenario" 3
  simulate "s1000x777_$scenario" "--width 1000 --height 777" $((seed++)) "$scenario" 2
  simulate "s2048_$scenario" "--size 2048" $((seed++)) "$scenario" 2
done
scans+=("$ge")
for dims in "256 256" "1000 777" "2048 2048"; do
  set -- $dims
  [[ -f "$work/mask_$1x$2.pgm" ]] || write_mask "$1" "$2" "$work/mask_$1x$2.pgm"
done

option_sets=(
  ""
  "--background gaussian"
  "--flat-noise"
  "--mask MASK"
  "--no-dead-lines --keep-zeros"
  "--zero-margin 0 --block 16 --percentile 0.2 --k-low 2.5 --k-high 5"
  "--background gaussian --flat-noise --mask MASK --zero-margin 5"
  "--block 48 --percentile 0.45 --no-dead-lines"
)

run() {  # binary scan options out
  local bin="$1" scan="$2" opts="$3" out="$4"
  rm -rf "$out"
  # shellcheck disable=SC2086
  "$bin" process "$scan" --out "$out/r.h5" --csv "$out" --threads 1 --backend cpu --quiet $opts >"$out.log" 2>&1 ||
    echo "exit $?" >>"$out.log"
}

failed=0
checked=0
for scan in "${scans[@]}"; do
  dims="$("$ref" info "$scan" | sed -n 's/^shape: *\([0-9]*\) x \([0-9]*\).*/\2x\1/p')"
  for opts in "${option_sets[@]}"; do
    opts="${opts//MASK/$work/mask_$dims.pgm}"
    mkdir -p "$work/out"
    run "$ref" "$scan" "$opts" "$work/out/ref"
    run "$new" "$scan" "$opts" "$work/out/new"
    for f in peaks.csv frames.csv; do
      if [[ ! -s "$work/out/ref/$f" ]]; then
        echo "NO OUTPUT from the reference: $(basename "$scan") [$opts] ($(tail -1 "$work/out/ref.log"))"
        failed=$((failed + 1))
      elif ! cmp -s "$work/out/ref/$f" "$work/out/new/$f"; then
        echo "DIFFERS: $(basename "$scan") [$opts] $f"
        failed=$((failed + 1))
      fi
    done
    if ! cmp -s <(grep -v '^exit' "$work/out/ref.log") <(grep -v '^exit' "$work/out/new.log"); then
      echo "DIFFERENT MESSAGES: $(basename "$scan") [$opts]"
      failed=$((failed + 1))
    fi
    checked=$((checked + 1))
  done
done
echo "$checked runs compared (${#scans[@]} scans x ${#option_sets[@]} option sets), $failed differences"
[[ $failed -eq 0 ]]
