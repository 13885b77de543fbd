#!/usr/bin/env bash
# The job scripts of scripts/slurm/, tested against a real Slurm. Starts a throw-away
# single-node cluster (its own config folder, state folders, ports and munge key), submits the
# project's own scripts on a simulated scan, and checks their results against a single-process
# run: MPI on one node (process-node.sbatch), the many-node script on the one node
# (process-nodes.sbatch, static hand-out), a job array + dependent merge (submit-array.sh); then
# scancel mid-run and resubmission, which must complete to the same tables. Stops exactly the
# daemons it started, by pid, whatever happens (trap).
#
# Usage: slurm_test.sh LAUEPROC SOURCE_DIR      exit 0 pass, 1 fail, 77 skipped (with the reason)
# KEEP_SLURM_TEST=1 keeps the work folder (config, logs, results) for a look afterwards.
set -euo pipefail
laueproc=$(realpath "$1")
source_dir=$(realpath "$2")
scripts="$source_dir/scripts/slurm"

skip() { echo "SKIPPED: $*"; exit 77; }
say() { echo "slurm test [$(date +%T)]: $*"; }
for tool in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/sbin/mungekey; do
  [ -x "$tool" ] || skip "$tool is not installed (scripts/setup.sh installs slurm-wlm and munge)"
done
for tool in sbatch squeue scancel sinfo sdiag h5diff; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup.sh installs slurm-wlm and hdf5-tools)"
done
[ "$(id -u)" -eq 0 ] || skip "starting slurmctld, slurmd and munged as a test needs root (CI runs as root)"
id munge >/dev/null 2>&1 || skip "no munge user (the munge package creates it)"
host=$(hostname -s)
getent hosts "$host" >/dev/null || skip "the host name $host does not resolve (add '127.0.0.1 $host' to /etc/hosts)"
"$laueproc" --version | grep -q "^MPI: yes" || skip "$laueproc was built without MPI (-DLAUEPROC_MPI=ON, libopenmpi-dev)"

work=$(mktemp -d /tmp/laueproc-slurm-XXXXXX)
chmod 755 "$work"
munge_pid="" ctld_pid="" slurmd_pid=""
export SLURM_CONF="$work/etc/slurm.conf"

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
stop_pid() {  # SIGTERM, up to 15 s, then SIGKILL: only the pid given, one at a time
  local pid=$1
  pid_alive "$pid" || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 150); do pid_alive "$pid" || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  set +e
  if pid_alive "$ctld_pid"; then  # our jobs first, so no job step outlives its slurmd
    jobs=$(squeue -h -o %i 2>/dev/null)
    [ -n "$jobs" ] && scancel $jobs 2>/dev/null
    for _ in $(seq 150); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  stop_pid "$slurmd_pid"
  stop_pid "$ctld_pid"
  stop_pid "$munge_pid"
  if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then
    for log in "$work"/log/*.log "$work"/*.out "$work"/*.log; do
      [ -f "$log" ] && { echo "---- $log (last lines)"; tail -n 25 "$log"; }
    done
  fi
  if [ -n "${KEEP_SLURM_TEST:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {  # a TCP port nothing listens on (a connection attempt is refused)
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "no free port found" >&2
  return 1
}

# ---- munge with its own key and socket ----
mkdir -p "$work/munge" "$work/etc" "$work/state" "$work/spool" "$work/log" "$work/run"
chown munge:munge "$work/munge"
chmod 755 "$work/munge"  # munged: the socket folder must be reachable by all
runuser -u munge -- /usr/sbin/mungekey --create --keyfile="$work/munge/munge.key" >/dev/null
runuser -u munge -- /usr/sbin/munged --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed"
for _ in $(seq 50); do [ -s "$work/munge/munged.pid" ] && break; sleep 0.1; done
munge_pid=$(cat "$work/munge/munged.pid")

# ---- slurm.conf for one node (docs/cluster.md), fake GPUs to satisfy --gpus-per-task ----
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
node_line=$(/usr/sbin/slurmd -C | head -n 1)
cpus=$(echo "$node_line" | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
[ "${cpus:-0}" -ge 2 ] || skip "this machine has ${cpus:-?} CPU; the jobs use 2 ranks"
cat >"$SLURM_CONF" <<EOF
ClusterName=laueproc-test
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
MailProg=/bin/true
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
KillWait=5
MinJobAge=2
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
GresTypes=gpu
$node_line Gres=gpu:$cpus State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# Slurm wants a device file per GPU: links to /dev/null named like NVIDIA's (nothing opens them).
mkdir -p "$work/dev"
for i in $(seq 0 $((cpus - 1))); do ln -s /dev/null "$work/dev/nvidia$i"; done
echo "NodeName=$host Name=gpu File=$work/dev/nvidia[0-$((cpus - 1))]" >"$work/etc/gres.conf"

# ---- a simulated scan and the single-process references, made while the cluster starts ----
# Per-frame files; scan.txt lists them once (48 frames), long.txt eight times (384 frames: a job
# long enough to be cancelled mid-run).
cd "$work"
(
  "$laueproc" simulate --out "$work/frames" --layout files --grid 8x6 --size 384 --seed 21 --quiet >/dev/null
  ls "$work"/frames/*.h5 >"$work/scan.txt"
  for _ in 1 2 3 4 5 6 7 8; do cat "$work/scan.txt"; done >"$work/long.txt"
  "$laueproc" process "$work/scan.txt" --out "$work/ref/results.h5" --csv "$work/ref/csv" --threads 1 --quiet
  "$laueproc" process "$work/long.txt" --out "$work/ref_long/results.h5" --csv "$work/ref_long/csv" --threads 1 --quiet
) >"$work/references.log" 2>&1 &
references=$!

say "starting slurmctld (port $ctld_port) and slurmd (port $slurmd_port) in $work"
/usr/sbin/slurmctld -c
for _ in $(seq 100); do [ -s "$work/run/slurmctld.pid" ] && break; sleep 0.1; done
ctld_pid=$(cat "$work/run/slurmctld.pid")
/usr/sbin/slurmd
for _ in $(seq 100); do [ -s "$work/run/slurmd.pid" ] && break; sleep 0.1; done
slurmd_pid=$(cat "$work/run/slurmd.pid")
ready=""
for _ in $(seq 300); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  cycles=$(sdiag 2>/dev/null | sed -n 's/^[[:space:]]*Total cycles:[[:space:]]*\([0-9]*\).*/\1/p' | head -n 1)
  if [ "$state" = "idle" ] && [ "${cycles:-0}" -ge 1 ]; then ready=1; break; fi
  sleep 0.1
done
[ -n "$ready" ] || { echo "FAILED: the cluster did not become ready (node state '${state:-}')"; exit 1; }
say "cluster ready"

wait "$references" || { echo "FAILED: simulating the scan or the single-process runs"; cat "$work/references.log"; exit 1; }

same_tables() {  # results folder vs the reference: datasets (values incl. NaN) and CSV bytes
  local ref=$1 got=$2 what=$3
  for ds in /peaks /frames /maps/se/se /maps/scenario/scenario /maps/n_peaks/n_peaks; do
    h5diff "$ref/results.h5" "$got/results.h5" "$ds" "$ds" >/dev/null ||
      { echo "FAILED: $what: $ds differs from the single-process run"; exit 1; }
  done
  for csv in peaks.csv frames.csv; do
    cmp -s "$ref/csv/$csv" "$got/csv/$csv" || { echo "FAILED: $what: $csv differs from the single-process run"; exit 1; }
  done
  say "$what: same tables as the single-process run"
}

export LAUEPROC="$laueproc"
gpus="--gpus-per-task=1 --cpus-per-task=1"  # the scripts' resources, cut to this 2-CPU node

# 1. one node, 2 MPI ranks (srun --mpi=pmix inside the script)
SCAN="$work/scan.txt" OUT="$work/node/results.h5" CSV="$work/node/csv" \
  sbatch --wait --quiet --nodes=1 --ntasks-per-node=2 $gpus --output="$work/node.out" "$scripts/process-node.sbatch" ||
  { echo "FAILED: process-node.sbatch"; cat "$work/node.out"; exit 1; }
grep -q "on each of 2 MPI ranks" "$work/node.out" || { echo "FAILED: not 2 MPI ranks"; cat "$work/node.out"; exit 1; }
same_tables "$work/ref" "$work/node" "process-node.sbatch (2 ranks)"

# 2. the many-node script on the one node, static hand-out
SCAN="$work/scan.txt" OUT="$work/nodes/results.h5" CSV="$work/nodes/csv" DISTRIBUTE=static \
  sbatch --wait --quiet --nodes=1 --ntasks-per-node=2 $gpus --output="$work/nodes.out" "$scripts/process-nodes.sbatch" ||
  { echo "FAILED: process-nodes.sbatch"; cat "$work/nodes.out"; exit 1; }
same_tables "$work/ref" "$work/nodes" "process-nodes.sbatch (static)"

# 3. job array of 3 shards + the merge job that depends on it
ids=$(SHARDS=3 SCAN="$work/scan.txt" OUT="$work/array/results.h5" CSV="$work/array/csv" \
  "$scripts/submit-array.sh" $gpus --chdir="$work")
merge_id=${ids##* }
say "array + merge: jobs $ids"
for _ in $(seq 1200); do [ -z "$(squeue -h -j "$merge_id" 2>/dev/null)" ] && break; sleep 0.1; done
[ -f "$work/array/results.h5" ] || { echo "FAILED: the merge job wrote no results"; cat "$work"/*.out; exit 1; }
same_tables "$work/ref" "$work/array" "submit-array.sh (3 shards + merge)"
ls "$work/array/results.h5".shard-* >/dev/null 2>&1 && { echo "FAILED: shard journals left after the merge"; exit 1; }

# 4. scancel mid-run, then the same script again: it resumes and completes to the same tables
export SCAN="$work/long.txt" OUT="$work/cut/results.h5" CSV="$work/cut/csv"
job=$(sbatch --parsable --nodes=1 --ntasks-per-node=2 $gpus --output="$work/cut1.out" "$scripts/process-node.sbatch")
for _ in $(seq 600); do
  n=$(grep -c '^[0-9a-f]\{8\} F ' "$OUT.journal" 2>/dev/null || true)  # frame records (CRC, then F)
  [ "${n:-0}" -ge 5 ] && break
  sleep 0.05
done
scancel "$job"
for _ in $(seq 300); do [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break; sleep 0.1; done
kept=$(grep -c '^[0-9a-f]\{8\} F ' "$OUT.journal" 2>/dev/null || true)
total=$(($(wc -l <"$work/ref_long/csv/frames.csv") - 1))
say "scancel: $kept of $total frames journalled"
[ -f "$OUT.journal" ] && [ "${kept:-0}" -lt "$total" ] && [ ! -f "$CSV/frames.csv" ] ||
  { echo "FAILED: the job was not cut mid-run (journal: ${kept:-none} frames)"; cat "$work/cut1.out"; exit 1; }
sbatch --wait --quiet --nodes=1 --ntasks-per-node=2 $gpus --output="$work/cut2.out" "$scripts/process-node.sbatch" ||
  { echo "FAILED: the resubmitted job"; cat "$work/cut2.out"; exit 1; }
grep -q "resuming: " "$work/cut2.out" || { echo "FAILED: the resubmitted job did not resume"; cat "$work/cut2.out"; exit 1; }
same_tables "$work/ref_long" "$work/cut" "scancel + resubmission"
say "all passed"
