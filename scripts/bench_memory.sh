#!/usr/bin/env bash
# Peak resident memory of `laueproc process` at 10 and at N frames (default 1000) of 2048x2048:
# streaming means it must not grow with the scan. Writes JSON to stdout (and to $2 if given).
# usage: scripts/bench_memory.sh [N] [out.json]     (needs ~8.4 GB of disk per 1000 frames)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LAUEPROC:-$here/build/laueproc}"
n="${1:-1000}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/laueproc-mem-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
threads="${THREADS:-$(nproc)}"

measure() {  # frames -> "rss_kb seconds"
  local frames=$1 nx=$1 ny=1
  if ((frames >= 100)); then nx=100; ny=$(((frames + 99) / 100)); fi
  "$bin" simulate --out "$tmp/s$frames.h5" --grid "${nx}x${ny}" --size 2048 --seed 1 --quiet >/dev/null
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$tmp/rss$frames" "$bin" process "$tmp/s$frames.h5" --out "$tmp/r$frames.h5" \
    --threads "$threads" --quiet
  end=$(date +%s.%N)
  rm -f "$tmp/s$frames.h5"
  echo "$(cat "$tmp/rss$frames") $(echo "$end - $start" | bc)"
}

read -r rss_small t_small < <(measure 10)
read -r rss_large t_large < <(measure "$n")
json=$(printf '{"frames_small": 10, "peak_rss_mb_small": %.1f, "frames_large": %d, "peak_rss_mb_large": %.1f, "seconds_large": %.1f, "threads": %d, "ratio_large_over_small": %.3f}\n' \
  "$(echo "$rss_small / 1024" | bc -l)" "$n" "$(echo "$rss_large / 1024" | bc -l)" "$t_large" "$threads" \
  "$(echo "$rss_large / $rss_small" | bc -l)")
echo "$json"
[ -n "${2:-}" ] && echo "$json" >"$2"
exit 0
