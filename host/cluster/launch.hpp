#pragma once
/// @file
/// @brief How this process was started: by mpirun or srun as one of several tasks, or alone.

#include <string>

namespace laueproc::cluster {

/// @brief What the environment of mpirun (Open MPI), srun (Slurm) or a PMI launcher says.
struct Launch {
  bool by_mpi_launcher = false;  ///< mpirun/srun --mpi set up an MPI job for us (even of one task)
  int tasks = 1;                 ///< tasks started together (1 when alone)
  int rank = 0;                  ///< this task's rank among them (0 when alone)
  std::string launcher;          ///< "mpirun", "srun", "pmi" or "" (alone)
};

/// @brief Reads OMPI_COMM_WORLD_SIZE (mpirun), PMIX_RANK / PMI_SIZE (PMI launchers) and
/// SLURM_STEP_NUM_TASKS with SLURM_PROCID (a task of an srun step; a batch script is not one).
Launch detect_launch();

/// @brief Worker threads for one of `local_ranks` ranks on this node: the cores this process may
/// run on when the launcher bound it (mpirun binds, Slurm with task/affinity), else its share
/// of the node's cores; at least 1.
int threads_per_rank(int local_ranks);

/// @brief True when this laueproc was built with the MPI driver (-DLAUEPROC_MPI).
bool mpi_built();

}  // namespace laueproc::cluster
