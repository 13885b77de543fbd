#!/usr/bin/env bash
# GPU check of a laueproc bundle (scripts/bundle-for-gpu.sh), for a machine with an NVIDIA GPU
# and no build tools. Usage: bash gpu-bundle/gpu-check.sh OUTDIR
# Every step has its own timeout and the whole run a deadline (7 minutes); a failing step is
# recorded and the next one runs. OUTDIR receives at most 8 files:
#   nvidia-smi.txt  gpu_tests.json  sanitizer.log  bench_cuda.json  e2e.log  demo.log
#   gpu-check.log (every step's console output)  summary.json (the headline)
set -uo pipefail
OUTDIR=${1:?usage: gpu-check.sh OUTDIR}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
B=$(cd "$(dirname "$0")" && pwd)
[ -d "$B/bin" ] || B=$(cd "$B/.." && pwd)/gpu-bundle  # run from scripts/ of a checkout
LOG=$OUTDIR/gpu-check.log
: >"$LOG"
START=$(date +%s)
DEADLINE=$((START + ${GPU_CHECK_BUDGET_S:-420}))
TMP=$(mktemp -d)
STEPS=$TMP/steps.tsv
: >"$STEPS"

export LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export HDF5_PLUGIN_PATH="$B/plugins"
export LAUEPROC_SCRIPTS="$B/scripts"
export PATH="$PATH:/usr/local/cuda/bin"
[ -d "$B/compute-sanitizer" ] && export PATH="$B/compute-sanitizer:$PATH"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }

# run_step NAME TIMEOUT_S OUTFILE CMD...: output appended to OUTFILE (and the log), time-boxed
# to the smaller of TIMEOUT_S and what is left before the deadline.
run_step() {
  local name=$1 limit=$2 out=$3
  shift 3
  local left=$((DEADLINE - $(date +%s)))
  if [ "$left" -lt 15 ]; then
    log "step $name: skipped (deadline)"
    printf '%s\t%s\t%s\n' "$name" "skipped" 0 >>"$STEPS"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  log "step $name (timeout ${limit}s): $*"
  local t0=$(date +%s) rc
  timeout --kill-after=10 "$limit" "$@" >>"$out" 2>&1
  rc=$?
  local dt=$(($(date +%s) - t0))
  [ "$out" != "$LOG" ] && tail -n 40 "$out" >>"$LOG"
  log "step $name: rc=$rc (${dt}s)"
  printf '%s\t%s\t%s\n' "$name" "$rc" "$dt" >>"$STEPS"
  return 0
}

# The tests carry build-time paths (the program, tests/data): recreate them as links.
if [ -f "$B/paths.env" ]; then
  # shellcheck disable=SC1091
  . "$B/paths.env"
  if [ ! -e "$BUILD_DIR/laueproc" ]; then
    mkdir -p "$BUILD_DIR" 2>/dev/null && ln -sf "$B/bin/laueproc" "$BUILD_DIR/laueproc" 2>/dev/null
  fi
  if [ -n "${TEST_DATA_DIR:-}" ] && [ ! -e "$TEST_DATA_DIR/laue" ] && [ -d "$B/data/laue" ]; then
    mkdir -p "$(dirname "$TEST_DATA_DIR")" 2>/dev/null && ln -sfn "$B/data" "$TEST_DATA_DIR" 2>/dev/null
  fi
fi
log "bundle $B: $(tr '\n' ' ' <"$B/VERSION" 2>/dev/null)"

# 1. The card.
{
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv
    nvidia-smi
  else
    echo "no device: nvidia-smi not found"
  fi
  command -v compute-sanitizer >/dev/null && compute-sanitizer --version | tail -1 || echo "compute-sanitizer not found"
} >"$OUTDIR/nvidia-smi.txt" 2>&1
HAVE_GPU=0
command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU' && HAVE_GPU=1
log "device present: $HAVE_GPU"

# 2. GPU tests (skip themselves without a device), JSON report.
run_step gpu_tests 180 "$LOG" "$B/bin/laueproc_gpu_tests" --gtest_output="json:$OUTDIR/gpu_tests.json"

# 3. Sanitizers on a short filter (the kernels against their CPU twins, a small batch run).
: >"$OUTDIR/sanitizer.log"
if [ "$HAVE_GPU" = 1 ] && command -v compute-sanitizer >/dev/null; then
  run_step memcheck 120 "$OUTDIR/sanitizer.log" compute-sanitizer --tool memcheck --error-exitcode 9 \
    "$B/bin/laueproc_gpu_tests" --gtest_filter='CudaKernels.*:CudaEquivalence.BatchSplitAndSmallBatches'
  run_step racecheck 90 "$OUTDIR/sanitizer.log" compute-sanitizer --tool racecheck --error-exitcode 9 \
    "$B/bin/laueproc_gpu_tests" --gtest_filter='CudaKernels.*'
else
  echo "sanitizers skipped: no device or no compute-sanitizer" >>"$OUTDIR/sanitizer.log"
  printf 'memcheck\tskipped\t0\nracecheck\tskipped\t0\n' >>"$STEPS"
fi

# 4. Benchmarks (floors, GPU-resident kernels, analyze() end to end, CPU baseline).
run_step bench_cuda 150 "$LOG" "$B/bin/bench_cuda" --benchmark_format=console \
  --benchmark_out="$OUTDIR/bench_cuda.json" --benchmark_out_format=json

# 5. End-to-end tests (CPU paths of the program, real data).
: >"$OUTDIR/e2e.log"
run_step e2e 120 "$OUTDIR/e2e.log" "$B/bin/laueproc_e2e_tests"

# 6. The demo scan processed by both backends, results compared.
: >"$OUTDIR/demo.log"
D=$TMP/demo
run_step demo_simulate 120 "$OUTDIR/demo.log" "$B/bin/laueproc" demo --size 2048 --grid 4x4 --out "$D" -q
if [ -f "$D/scan.h5" ]; then
  for be in cpu cuda; do
    run_step "process_$be" 90 "$OUTDIR/demo.log" "$B/bin/laueproc" process "$D/scan.h5" --backend "$be" \
      --out "$TMP/$be.h5" --csv "$TMP/$be"
  done
fi
if command -v python3 >/dev/null; then
  env -u LD_LIBRARY_PATH python3 - "$TMP/cpu" "$TMP/cuda" >>"$OUTDIR/demo.log" 2>&1 <<'PY' || true
import csv, json, math, os, sys
a, b = sys.argv[1], sys.argv[2]
def peaks(d):
    p = os.path.join(d, "peaks.csv")
    if not os.path.exists(p):
        return None
    out = {}
    with open(p) as f:
        for r in csv.DictReader(f):
            out.setdefault(r["frame"], []).append(r)
    return out
pa, pb = peaks(a), peaks(b)
res = {"compared": False}
if pa is not None and pb is not None:
    frames = sorted(set(pa) | set(pb), key=lambda s: int(s))
    same = sum(len(pa.get(f, [])) == len(pb.get(f, [])) for f in frames)
    worst = {"x": 0.0, "y": 0.0, "a_rel": 0.0, "b_rel": 0.0, "theta": 0.0}
    for f in frames:
        A, Bq = pa.get(f, []), pb.get(f, [])
        if len(A) != len(Bq):
            continue
        for p, q in zip(A, Bq):
            for k in ("x", "y"):
                worst[k] = max(worst[k], abs(float(p[k]) - float(q[k])))
            for k in ("a", "b"):
                worst[k + "_rel"] = max(worst[k + "_rel"], abs(float(p[k]) - float(q[k])) / max(1.0, abs(float(p[k]))))
            if "theta_deg" in p and float(p["a"]) - float(p["b"]) > 1e-3 * float(p["a"]):
                d = abs(float(p["theta_deg"]) - float(q["theta_deg"]))
                worst["theta"] = max(worst["theta"], min(d, 180 - d))
    ok = len(frames) > 0 and same / len(frames) >= 0.999 and worst["x"] <= 1e-3 and worst["y"] <= 1e-3 \
        and worst["a_rel"] <= 1e-3 and worst["b_rel"] <= 1e-3 and worst["theta"] <= 0.05
    res = {"compared": True, "frames": len(frames), "frames_same_count": same, "worst": worst, "pass": ok}
print("DEMO_COMPARE " + json.dumps(res))
PY
fi

# 7. summary.json
END=$(date +%s)
if command -v python3 >/dev/null; then
  env -u LD_LIBRARY_PATH python3 - "$OUTDIR" "$B" "$STEPS" "$HAVE_GPU" "$((END - START))" <<'PY'
import json, os, re, subprocess, sys, datetime
out, bundle, steps_file, have_gpu, wall = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", int(sys.argv[5])
s = {"date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "device_present": have_gpu, "wall_s": wall}
try:
    q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                       capture_output=True, text=True, timeout=20).stdout.strip()
    s["card"] = q or "no device"
except Exception:
    s["card"] = "no device (nvidia-smi not found)"
try:
    s["bundle"] = dict(l.strip().split("=", 1) for l in open(os.path.join(bundle, "VERSION")) if "=" in l)
except Exception:
    s["bundle"] = {}
s["steps"] = [dict(zip(("name", "rc", "seconds"), l.rstrip("\n").split("\t"))) for l in open(steps_file)]
def gtest_counts(path):
    try:
        j = json.load(open(path))
    except Exception:
        return None
    c = {"tests": 0, "passed": 0, "failed": 0, "skipped": 0, "failed_names": []}
    for suite in j.get("testsuites", []):
        for t in suite.get("testsuite", []):
            c["tests"] += 1
            if t.get("failures"):
                c["failed"] += 1
                c["failed_names"].append(suite["name"] + "." + t["name"])
            elif t.get("result") == "SKIPPED":
                c["skipped"] += 1
            else:
                c["passed"] += 1
    return c
s["gpu_tests"] = gtest_counts(os.path.join(out, "gpu_tests.json"))
try:
    txt = open(os.path.join(out, "e2e.log")).read()
    m = re.search(r"\[  PASSED  \] (\d+) test", txt)
    f = re.search(r"\[  FAILED  \] (\d+) test", txt)
    s["e2e"] = {"passed": int(m.group(1)) if m else 0, "failed": int(f.group(1)) if f else 0}
except Exception:
    s["e2e"] = None
try:
    txt = open(os.path.join(out, "sanitizer.log")).read()
    s["sanitizer"] = {"error_summaries": re.findall(r"ERROR SUMMARY: \d+ error", txt),
                      "races": re.findall(r"RACECHECK SUMMARY: .*", txt)}
except Exception:
    s["sanitizer"] = None
bench = {}
try:
    for b in json.load(open(os.path.join(out, "bench_cuda.json"))).get("benchmarks", []):
        e = {k: b[k] for k in ("real_time", "time_unit", "bytes_per_second", "items_per_second",
                               "frames_per_s", "touched_GBps", "error_message") if k in b}
        if "bytes_per_second" in e:
            e["GBps"] = round(e["bytes_per_second"] / 1e9, 2)
        bench[b["name"]] = e
except Exception as ex:
    bench = {"error": str(ex)}
s["bench"] = bench
try:
    for l in open(os.path.join(out, "demo.log")):
        if l.startswith("DEMO_COMPARE "):
            s["demo_compare"] = json.loads(l[len("DEMO_COMPARE "):])
except Exception:
    pass
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=1)
head = {k: s.get(k) for k in ("card", "device_present", "gpu_tests", "e2e", "sanitizer", "demo_compare", "steps")}
head["bench"] = {n: (e.get("frames_per_s") or e.get("GBps") or e.get("error_message")) for n, e in bench.items()
                 if isinstance(e, dict)}
print(json.dumps(head, indent=1))
PY
else
  printf '{"date":"%s","device_present":%s,"note":"python3 missing: see gpu-check.log"}\n' \
    "$(date -u +%FT%TZ)" "$([ "$HAVE_GPU" = 1 ] && echo true || echo false)" >"$OUTDIR/summary.json"
fi
log "done in $((END - START))s; files: $(ls "$OUTDIR" | tr '\n' ' ')"
rm -rf "$TMP"
