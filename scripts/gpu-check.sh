#!/usr/bin/env bash
# GPU check of a laueproc bundle (scripts/bundle-for-gpu.sh), for a machine with an NVIDIA GPU
# and no build tools. Usage:  bash gpu-bundle/gpu-check.sh OUTDIR
#
# It cannot lie:
#  - the device is probed twice (nvidia-smi, and `laueproc --version`, which asks the CUDA
#    runtime laueproc was built with): a driver older than that runtime is reported as such;
#  - every step has a time limit and the limits add up to at most the budget (420 s: a 15-minute
#    device session includes the machine's start); the script refuses to run otherwise;
#  - the GPU tests fail (never skip) when a driver is present but unusable;
#  - the end-to-end runs name `--backend cpu` and `--backend cuda` and their outputs are compared;
#    the e2e test suite runs with CUDA hidden (CUDA_VISIBLE_DEVICES=) and says so: it tests the CPU path;
#  - sanitizers run on a small batch only (CudaSanitize.*);
#  - summary.json is always written: card, driver, runtime, commit, test counts, figures, every
#    step's exit status and time, and "ok" true only when everything ran and passed on a GPU.
# Exit status: 0 all passed on a GPU; 1 a step failed; 3 no GPU; 4 a GPU whose driver is unusable.
#
# OUTDIR receives: versions.txt nvidia-smi.txt gpu_tests.json sanitizer.log bench_cuda.json
# bench.json bench_bslz4.json e2e_tests.json stacks.log gpu-check.log summary.json
set -uo pipefail
OUTDIR=${1:?usage: gpu-check.sh OUTDIR}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
B=$(cd "$(dirname "$0")" && pwd)
[ -f "$B/VERSION" ] || B=$(cd "$B/.." && pwd)/gpu-bundle  # run from scripts/ of a checkout
LOG=$OUTDIR/gpu-check.log
: >"$LOG"
START=$(date +%s)
BUDGET=${GPU_CHECK_BUDGET_S:-420}
DEADLINE=$((START + BUDGET))
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The programs and libraries travel packed (bundle-for-gpu.sh): P is where they are.
P=$B
if [ -f "$B/payload.tar.gz" ]; then
  P=$TMP/payload
  mkdir -p "$P"
  if ! tar xzf "$B/payload.tar.gz" -C "$P"; then
    echo "gpu-check: cannot unpack $B/payload.tar.gz" | tee -a "$LOG"
    exit 2
  fi
fi
STEPS=$OUTDIR/steps.tsv
: >"$STEPS"

# Step limits (seconds). Their sum must fit the budget: checked before anything runs.
declare -A LIMIT=(
  [probe]=10 [gpu_tests]=55 [memcheck]=40 [racecheck]=40 [synccheck]=20 [bench_cuda]=45
  [bench]=35 [simulate]=50 [process_cuda]=20 [process_cpu]=15 [bench_read]=15 [bench_decode]=30 [e2e_tests]=45
)
SUM=0
for k in "${!LIMIT[@]}"; do SUM=$((SUM + LIMIT[$k])); done

export LD_LIBRARY_PATH="$P/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}:/usr/local/cuda/lib64"
export HDF5_PLUGIN_PATH="$P/plugins"
export LAUEPROC_SCRIPTS="$B/scripts"
export PATH="$PATH:/usr/local/cuda/bin"
[ -d "$P/compute-sanitizer" ] && export PATH="$P/compute-sanitizer:$PATH"
L=$P/bin/laueproc

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }

# run_step NAME OUTFILE CMD...: output appended to OUTFILE (and its tail to the log), time-boxed to
# the smaller of LIMIT[NAME] and what is left before the deadline.
run_step() {
  local name=$1 out=$2
  shift 2
  local limit=${LIMIT[$name]} left=$((DEADLINE - $(date +%s)))
  if [ "$left" -lt 5 ]; then
    log "step $name: SKIPPED (deadline reached)"
    printf '%s\t%s\t%s\t%s\n' "$name" "skipped" 0 "$limit" >>"$STEPS"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  log "step $name (limit ${limit}s): $*"
  local t0 rc dt
  t0=$(date +%s%N)
  timeout --kill-after=5 "$limit" "$@" >>"$out" 2>&1
  rc=$?
  dt=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$out" != "$LOG" ] && tail -n 25 "$out" >>"$LOG"
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && log "step $name: TIMED OUT after ${limit}s"
  log "step $name: rc=$rc ($((dt / 1000)).$((dt % 1000 / 100))s)"
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$dt" "$limit" >>"$STEPS"
  return 0
}
skip_step() {  # NAME WHY
  log "step $1: SKIPPED ($2)"
  printf '%s\t%s\t%s\t%s\n' "$1" "skipped: $2" 0 "${LIMIT[$1]}" >>"$STEPS"
}

log "gpu-check: bundle $B, budget ${BUDGET}s, step limits sum ${SUM}s"
if [ "$SUM" -gt "$BUDGET" ]; then
  log "ERROR: the step limits add up to ${SUM}s, over the ${BUDGET}s budget: fix LIMIT in gpu-check.sh"
  exit 2
fi
log "bundle: $(tr '\n' ' ' <"$B/VERSION" 2>/dev/null)"

# The tests carry build-time paths (the program, tests/data): recreate them as links if missing.
if [ -f "$B/paths.env" ]; then
  # shellcheck disable=SC1091
  . "$B/paths.env"
  if [ ! -e "$BUILD_DIR/laueproc" ]; then
    mkdir -p "$BUILD_DIR" 2>/dev/null && ln -sf "$L" "$BUILD_DIR/laueproc" 2>/dev/null
  fi
  if [ -n "${TEST_DATA_DIR:-}" ] && [ ! -e "$TEST_DATA_DIR/laue" ] && [ -d "$B/data/laue" ]; then
    mkdir -p "$(dirname "$TEST_DATA_DIR")" 2>/dev/null && ln -sfn "$B/data" "$TEST_DATA_DIR" 2>/dev/null
  fi
  [ -e "$TEST_DATA_DIR/laue" ] || log "warning: test data not found at $TEST_DATA_DIR (real-data tests will fail)"
fi

# 1. The card and the driver, as nvidia-smi and as laueproc's CUDA runtime see them.
{
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,temperature.gpu,power.draw,mig.mode.current --format=csv
    nvidia-smi
  else
    echo "nvidia-smi not found"
  fi
  command -v compute-sanitizer >/dev/null && compute-sanitizer --version | tail -1 || echo "compute-sanitizer not found"
} >"$OUTDIR/nvidia-smi.txt" 2>&1
run_step probe "$OUTDIR/versions.txt" "$L" --version
SMI_GPU=0
command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU' && SMI_GPU=1
CUDA_LINE=$(grep '^cuda:' "$OUTDIR/versions.txt" 2>/dev/null | head -1)
CUDA_DEVICES=$(echo "$CUDA_LINE" | sed -n 's/.*, \([0-9]*\) device(s).*/\1/p')
CUDA_PROBLEM=$(echo "$CUDA_LINE" | sed -n 's/.* device(s): \(.*\)/\1/p')
STATUS=ok
if [ -n "$CUDA_PROBLEM" ]; then
  STATUS=driver_problem
  log "!!! GPU DRIVER UNUSABLE: $CUDA_PROBLEM"
elif [ "${CUDA_DEVICES:-0}" -gt 0 ] 2>/dev/null; then
  STATUS=ok
  log "device: $(sed -n '3p' "$OUTDIR/versions.txt") ($CUDA_LINE)"
else
  STATUS=no_gpu
  log "!!! NO GPU: nvidia-smi sees ${SMI_GPU} GPU(s); laueproc: '${CUDA_LINE:-no cuda line (built without CUDA?)}'"
  log "!!! the CUDA steps below will skip or fail; this run measures nothing on a GPU"
fi
HAVE_GPU=0
[ "$STATUS" = ok ] && HAVE_GPU=1

# 2. GPU tests (they fail, not skip, on an unusable driver), JSON report.
run_step gpu_tests "$LOG" "$P/bin/laueproc_gpu_tests" --gtest_output="json:$OUTDIR/gpu_tests.json"

# 3. Sanitizers on a small batch (the test runs every kernel and analyze()).
: >"$OUTDIR/sanitizer.log"
if [ "$HAVE_GPU" = 1 ] && command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck synccheck; do
    run_step "$tool" "$OUTDIR/sanitizer.log" compute-sanitizer --tool "$tool" --error-exitcode 9 \
      "$P/bin/laueproc_gpu_tests" --gtest_filter='CudaSanitize.*'
  done
else
  why="no GPU"; [ "$HAVE_GPU" = 1 ] && why="compute-sanitizer not found"
  echo "sanitizers skipped: $why" >>"$OUTDIR/sanitizer.log"
  for tool in memcheck racecheck synccheck; do skip_step "$tool" "$why"; done
fi

# 4. Benchmarks: floors, GPU-resident pipeline (block / Gaussian separable / Gaussian cuFFT),
#    analyze() from host memory with host CPU ms per frame, CPU baseline.
run_step bench_cuda "$LOG" "$P/bin/bench_cuda" --benchmark_format=console \
  --benchmark_out="$OUTDIR/bench_cuda.json" --benchmark_out_format=json

# 5. laueproc bench: CPU and CUDA in the same run (speed-up), host_cpu_ms_per_frame.
run_step bench "$LOG" "$L" bench --backend cuda --frames 32 --size 2048 --batch 16 --json "$OUTDIR/bench.json"

# 6. End to end from files: an uncompressed stack and a bitshuffle/LZ4 stack (just written: in the
#    page cache), each processed by `--backend cuda` (timed) and the uncompressed one by
#    `--backend cpu`; the two backends' peaks are compared.
: >"$OUTDIR/stacks.log"
S=$TMP/stacks
BS=$S/bs/bslz4.h5  # its own folder: each simulated scan writes truth_*.csv beside it
mkdir -p "$S/bs"
GRID=${GPU_CHECK_STACK_GRID:-32x16}  # 512 frames of 2048^2: 4 GB uncompressed
NFRAMES=$(( ${GRID%x*} * ${GRID#*x} ))
# Both stacks written at once (the renderer is multi-threaded, the HDF5 writes are not).
run_step simulate "$OUTDIR/stacks.log" bash -c "'$L' simulate --out '$S/raw.h5' --size 2048 --grid $GRID --seed 2 -q & p=\$!; \
  '$L' simulate --out '$BS' --size 2048 --grid $GRID --seed 2 --compression bitshuffle -q; a=\$?; wait \$p; b=\$?; \
  exit \$((a | b))"
timed_process() {  # BACKEND INPUT OUT: writes "E2E backend input frames milliseconds rc" to stacks.log
  local t0 t1
  t0=$(date +%s%N)
  "$L" process "$2" --backend "$1" --out "$3.h5" --csv "$3" -q
  local rc=$?
  t1=$(date +%s%N)
  echo "E2E $1 $(basename "$2") $NFRAMES $(( (t1 - t0) / 1000000 ))ms rc=$rc"
  return $rc
}
export -f timed_process
export L NFRAMES
if [ "$(awk -F'\t' '$1 == "simulate" {print $2}' "$STEPS")" = 0 ]; then
  run_step process_cuda "$OUTDIR/stacks.log" bash -c "timed_process cuda '$S/raw.h5' '$S/cuda_raw' && \
    timed_process cuda '$BS' '$S/cuda_bslz4'"
  run_step process_cpu "$OUTDIR/stacks.log" bash -c "timed_process cpu '$S/raw.h5' '$S/cpu_raw'"
  run_step bench_read "$OUTDIR/stacks.log" bash -c "'$L' bench --backend cpu --frames 8 --input '$S/raw.h5' \
    --json '$TMP/read_raw.json' -q && '$L' bench --backend cpu --frames 8 --input '$BS' --json '$TMP/read_bslz4.json' -q"
  for k in raw bslz4; do [ -f "$TMP/read_$k.json" ] && echo "READ_$k $(cat "$TMP/read_$k.json")" >>"$OUTDIR/stacks.log"; done
  # Compressed bytes to the GPU: the bitshuffle/LZ4 stack read and analysed with device decoding
  # (nvCOMP) and with host decoding in one run, frames/s and host CPU ms per frame of each, and
  # whether their peaks are identical (e2e_* keys of bench_bslz4.json).
  run_step bench_decode "$OUTDIR/stacks.log" "$L" bench --backend cuda --frames 128 --input "$BS" \
    --batch 16 --json "$OUTDIR/bench_bslz4.json" -q
else
  for s in process_cuda process_cpu bench_read bench_decode; do skip_step "$s" "the stacks were not written"; done
fi

# 7. The e2e suite with CUDA hidden: the CPU path of the program (CI runs it too; here it checks
#    the bundle's libraries, plugins and data on this machine). The CUDA path is checked by steps
#    2 and 6. Left out: the report and silx tests, which need Python packages and a browser the
#    GPU image may not have (CI runs them).
run_step e2e_tests "$LOG" env CUDA_VISIBLE_DEVICES= "$P/bin/laueproc_e2e_tests" \
  --gtest_filter='-Report.*:Cli.ResultsAreValidNexusForSilx' --gtest_output="json:$OUTDIR/e2e_tests.json"

# 8. summary.json
END=$(date +%s)
if command -v python3 >/dev/null; then
  env -u LD_LIBRARY_PATH python3 - "$OUTDIR" "$B" "$STEPS" "$STATUS" "$((END - START))" "$S" <<'PY'
import csv, datetime, json, os, re, subprocess, sys
out, bundle, steps_file, status, wall, stacks = sys.argv[1:7]
s = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
     "status": status, "device_present": status == "ok", "wall_s": int(wall)}
def read(name):
    try:
        return open(os.path.join(out, name)).read()
    except OSError:
        return ""
try:
    q = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                       capture_output=True, text=True, timeout=20).stdout.strip()
    s["card"] = q or "no device"
except Exception:
    s["card"] = "no device (nvidia-smi not found)"
v = read("versions.txt").splitlines()
s["laueproc_version"] = v[0] if v else None
s["cuda"] = next((l for l in v if l.startswith("cuda:")), None)
m = re.search(r"runtime (\d+), driver (\d+)", s["cuda"] or "")
s["runtime_version"], s["driver_version"] = (int(m.group(1)), int(m.group(2))) if m else (None, None)
try:
    s["bundle"] = dict(l.strip().split("=", 1) for l in open(os.path.join(bundle, "VERSION")) if "=" in l)
except OSError:
    s["bundle"] = {}
s["commit"] = s["bundle"].get("commit")
s["steps"] = [dict(zip(("name", "rc", "ms", "limit_s"), l.rstrip("\n").split("\t"))) for l in open(steps_file)]
def gtest_counts(name):
    try:
        j = json.load(open(os.path.join(out, name)))
    except Exception:
        return None
    c = {"tests": 0, "passed": 0, "failed": 0, "skipped": 0, "failed_names": [], "skipped_names": []}
    for suite in j.get("testsuites", []):
        for t in suite.get("testsuite", []):
            c["tests"] += 1
            full = suite["name"] + "." + t["name"]
            if t.get("failures"):
                c["failed"] += 1
                c["failed_names"].append(full)
            elif t.get("result") == "SKIPPED":
                c["skipped"] += 1
                c["skipped_names"].append(full)
            else:
                c["passed"] += 1
    return c
s["gpu_tests"] = gtest_counts("gpu_tests.json")
s["e2e_tests_cpu_path"] = gtest_counts("e2e_tests.json")
txt = read("sanitizer.log")
s["sanitizer"] = {"error_summaries": re.findall(r"ERROR SUMMARY: \d+ error", txt),
                  "races": re.findall(r"RACECHECK SUMMARY: .*", txt), "note": txt.splitlines()[0] if txt else None}
bench = {}
try:
    for b in json.load(open(os.path.join(out, "bench_cuda.json"))).get("benchmarks", []):
        e = {k: b[k] for k in ("real_time", "time_unit", "frames_per_s", "raw_GBps", "host_cpu_ms_per_frame",
                               "h2d_pinned_GBps", "d2d_copy_GBps", "label", "error_message") if k in b}
        bench[b["name"]] = e
except Exception as ex:
    bench = {"error": str(ex)}
s["bench_cuda"] = bench
try:
    s["laueproc_bench"] = json.loads(read("bench.json"))
except Exception:
    s["laueproc_bench"] = None
# End to end from files, and the CPU-vs-CUDA comparison of the same stack.
e2e, reads = {}, {}
for l in read("stacks.log").splitlines():
    m = re.match(r"E2E (\w+) (\S+) (\d+) (\d+)ms rc=(\d+)", l)
    if m:
        fps = int(m.group(3)) / (int(m.group(4)) / 1e3) if int(m.group(4)) > 0 and m.group(5) == "0" else None
        e2e[m.group(1) + ":" + m.group(2)] = {"frames": int(m.group(3)), "ms": int(m.group(4)), "rc": int(m.group(5)),
                                              "frames_per_s": fps}
    if l.startswith("READ_"):
        k, j = l.split(" ", 1)
        try:
            reads[k[5:]] = json.loads(j).get("read_frames_per_s")
        except Exception:
            pass
s["end_to_end"] = e2e
s["read_frames_per_s"] = reads
try:
    s["bench_bitshuffle_lz4"] = json.loads(read("bench_bslz4.json"))
except Exception:
    s["bench_bitshuffle_lz4"] = None
bd = s["bench_bitshuffle_lz4"] or {}
def peaks(d):
    p = os.path.join(d, "peaks.csv")
    if not os.path.exists(p):
        return None
    rows = {}
    with open(p) as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["frame"], []).append(r)
    return rows
pa, pb = peaks(os.path.join(stacks, "cpu_raw")), peaks(os.path.join(stacks, "cuda_raw"))
cmp = {"compared": False}
if pa is not None and pb is not None:
    frames = sorted(set(pa) | set(pb), key=int)
    same = sum(len(pa.get(f, [])) == len(pb.get(f, [])) for f in frames)
    identical = sum(pa.get(f) == pb.get(f) for f in frames)
    worst = {"x": 0.0, "y": 0.0, "a_rel": 0.0, "b_rel": 0.0, "theta": 0.0, "intensity_rel": 0.0}
    for f in frames:
        A, Bq = pa.get(f, []), pb.get(f, [])
        if len(A) != len(Bq):
            continue
        for p, q in zip(A, Bq):
            for k in ("x", "y"):
                worst[k] = max(worst[k], abs(float(p[k]) - float(q[k])))
            for k in ("a", "b", "intensity"):
                worst[k + "_rel"] = max(worst[k + "_rel"], abs(float(p[k]) - float(q[k])) / max(1.0, abs(float(p[k]))))
            if float(p["a"]) - float(p["b"]) > 1e-3 * float(p["a"]):
                d = abs(float(p["theta_deg"]) - float(q["theta_deg"]))
                worst["theta"] = max(worst["theta"], min(d, 180 - d))
    ok = len(frames) > 0 and same == len(frames) and worst["x"] <= 1e-3 and worst["y"] <= 1e-3 \
        and worst["a_rel"] <= 1e-3 and worst["b_rel"] <= 1e-3 and worst["theta"] <= 0.05
    cmp = {"compared": True, "frames": len(frames), "frames_same_count": same, "frames_bit_identical_csv": identical,
           "worst": worst, "pass": ok}
s["cpu_vs_cuda"] = cmp
# Headline figures (null when not measured).
lb = s["laueproc_bench"] or {}
def bench_fps(name):
    e = bench.get(name) if isinstance(bench, dict) else None
    return e.get("frames_per_s") if isinstance(e, dict) else None
s["figures"] = {
    "gpu_resident_frames_per_s": bench_fps("BM_GpuResidentPipeline/0/manual_time"),
    "gpu_resident_gaussian_separable_frames_per_s": bench_fps("BM_GpuResidentPipeline/1/manual_time"),
    "gpu_resident_gaussian_cufft_frames_per_s": bench_fps("BM_GpuResidentPipeline/2/manual_time"),
    "analyze_from_memory_frames_per_s": lb.get("cuda_frames_per_s"),
    "host_cpu_ms_per_frame": lb.get("host_cpu_ms_per_frame"),
    "speedup_over_cpu_same_run": lb.get("cuda_speedup_over_cpu"),
    "h2d_pinned_gb_per_s": lb.get("h2d_pinned_gb_per_s"),
    "end_to_end_uncompressed_frames_per_s": (e2e.get("cuda:raw.h5") or {}).get("frames_per_s"),
    "end_to_end_bitshuffle_lz4_frames_per_s": (e2e.get("cuda:bslz4.h5") or {}).get("frames_per_s"),
    "end_to_end_cpu_uncompressed_frames_per_s": (e2e.get("cpu:raw.h5") or {}).get("frames_per_s"),
    # bench --input bslz4.h5: reading + analysis, no writer; device decoding null without nvCOMP
    "bitshuffle_lz4_host_decode_frames_per_s": bd.get("e2e_host_decode_frames_per_s"),
    "bitshuffle_lz4_host_decode_host_cpu_ms_per_frame": bd.get("e2e_host_decode_host_cpu_ms_per_frame"),
    "bitshuffle_lz4_device_decode_frames_per_s": bd.get("e2e_device_decode_frames_per_s"),
    "bitshuffle_lz4_device_decode_host_cpu_ms_per_frame": bd.get("e2e_device_decode_host_cpu_ms_per_frame"),
    "bitshuffle_lz4_device_decode_speedup": bd.get("e2e_device_decode_speedup"),
    "bitshuffle_lz4_device_equals_host_decode": bd.get("e2e_device_equals_host_decode"),
}
failed_steps = [st["name"] for st in s["steps"] if st["rc"] not in ("0",)]
gt = s["gpu_tests"] or {}
# A missing cuFFT only skips the optional FFT path (noted); any other skip on a GPU is a failure.
fft_skips = [n for n in gt.get("skipped_names", []) if n.startswith("CudaGaussianFft.")]
other_skips = [n for n in gt.get("skipped_names", []) if n not in fft_skips]
s["notes"] = ["cuFFT not available: the FFT Gaussian path was not measured"] if fft_skips else []
s["ok"] = status == "ok" and not failed_steps and gt.get("failed", 1) == 0 and gt.get("tests", 0) > 0 \
    and not other_skips and cmp.get("pass", False) and bd.get("e2e_device_equals_host_decode") is not False
s["problems"] = ([] if status == "ok" else [status]) + ["step " + n for n in failed_steps] + \
    ["gpu test failed: " + n for n in gt.get("failed_names", [])] + ["gpu test skipped: " + n for n in other_skips] + \
    (["cpu vs cuda peaks differ"] if cmp.get("compared") and not cmp.get("pass") else []) + \
    (["device-decoded peaks differ from host-decoded"] if bd.get("e2e_device_equals_host_decode") is False else []) + \
    ([] if cmp.get("compared") else ["cpu vs cuda not compared"])
json.dump(s, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps({k: s.get(k) for k in ("status", "ok", "card", "cuda", "commit", "problems", "notes", "figures")}, indent=1))
PY
else
  printf '{"date":"%s","status":"%s","ok":false,"note":"python3 missing: see gpu-check.log and steps.tsv"}\n' \
    "$(date -u +%FT%TZ)" "$STATUS" >"$OUTDIR/summary.json"
fi
log "done in $((END - START))s (budget ${BUDGET}s); files: $(ls "$OUTDIR" | tr '\n' ' ')"
case $STATUS in
  no_gpu) log "RESULT: NO GPU (exit 3)"; exit 3 ;;
  driver_problem) log "RESULT: GPU DRIVER UNUSABLE (exit 4)"; exit 4 ;;
esac
if grep -q '"ok": true' "$OUTDIR/summary.json"; then
  log "RESULT: all passed"
  exit 0
fi
log "RESULT: FAILED (see summary.json problems)"
exit 1
