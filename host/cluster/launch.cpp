#include "cluster/launch.hpp"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace laueproc::cluster {

namespace {

int env_int(const char* name, int fallback, int smallest = 1) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return end && *end == '\0' && n >= smallest && n < (1 << 30) ? static_cast<int>(n) : fallback;
}

bool has_env(const char* name) { return std::getenv(name) != nullptr; }

}  // namespace

Launch detect_launch() {
  Launch l;
  if (has_env("OMPI_COMM_WORLD_SIZE")) {
    l.by_mpi_launcher = true;
    l.tasks = env_int("OMPI_COMM_WORLD_SIZE", 1);
    l.rank = env_int("OMPI_COMM_WORLD_RANK", 0, 0);
    l.launcher = "mpirun";
  } else if (has_env("PMIX_RANK") || has_env("PMI_RANK")) {
    l.by_mpi_launcher = true;
    l.tasks = env_int("SLURM_STEP_NUM_TASKS", env_int("PMI_SIZE", 1));
    l.rank = env_int("PMIX_RANK", env_int("PMI_RANK", 0, 0), 0);
    l.launcher = has_env("SLURM_STEP_ID") ? "srun" : "pmi";
  } else if (has_env("SLURM_STEP_ID") && has_env("SLURM_PROCID")) {
    // A task of an srun step without MPI wiring (srun --mpi=none, or a build without MPI).
    l.tasks = env_int("SLURM_STEP_NUM_TASKS", 1);
    l.rank = env_int("SLURM_PROCID", 0, 0);
    l.launcher = "srun";
  }
  return l;
}

int threads_per_rank(int local_ranks) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  const int allowed = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : cores;
  if (allowed > 0 && allowed < cores) return allowed;  // bound by the launcher: these are ours
  return std::max(1, cores / std::max(1, local_ranks));
}

bool mpi_built() {
#ifdef LAUEPROC_HAVE_MPI
  return true;
#else
  return false;
#endif
}

}  // namespace laueproc::cluster
