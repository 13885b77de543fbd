#pragma once
/// @file
/// @brief Runs the processing of one scan with a given configuration; shared by `process` and `demo`.

#include <string>

#include "cluster/plan.hpp"
#include "laueproc/config.hpp"
#include "laueproc/io.hpp"
#include "laueproc/pipeline.hpp"

namespace laueproc::cli {

struct ProcessRequest {
  std::string input;
  ScanOptions scan;
  ProcessConfig config;
  PipelineOptions pipeline;
  std::string out_h5;
  std::string csv_dir;
  bool resume = false;
  bool overwrite = false;            ///< replace existing results / an interrupted run's journal
  std::string backend = "auto";      ///< auto (cuda when built and a device answers), cpu, cuda
  std::vector<int> devices;          ///< CUDA devices; workers are spread over them
  std::size_t batch = 16;            ///< CUDA frames per batch
  int cuda_workers = 0;              ///< CUDA host workers (0 = min(4, cores): the GPU does the per-frame work)
  std::string device_decode = "auto";///< CUDA: compressed frames decoded on the GPU: auto, on, off
  bool quiet = false;
  std::string command_line;
  cluster::Shard shard;              ///< --shard i/N: this process computes block i of N (job arrays)
  cluster::Distribution distribution = cluster::Distribution::dynamic;  ///< MPI: how ranks share frames
  std::int64_t chunk = 0;            ///< MPI: frames per hand-out (0 = 2 x workers x batch)
};

/// @brief Opens the scan, runs the pipeline into the sink and prints a short report on stderr.
/// Returns the exit code: 0, or 3 when some frames failed (results still written). The run's
/// report (with every frame's summary) goes to `report` when given. Under mpirun/srun (MPI
/// build) the ranks share the scan and rank 0 writes; with request.shard set, only that
/// shard's frames are computed into its journal (`laueproc merge` joins the shards).
int run_process(ProcessRequest request, RunReport* report = nullptr);

}  // namespace laueproc::cli
