#pragma once
/// @file
/// @brief Runs the processing of one scan with a given configuration; shared by `process` and `demo`.

#include <string>

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
  bool quiet = false;
  std::string command_line;
};

/// @brief Opens the scan, runs the pipeline into the sink and prints a short report on stderr.
/// Returns the exit code: 0, or 3 when some frames failed (results still written). The run's
/// report (with every frame's summary) goes to `report` when given.
int run_process(ProcessRequest request, RunReport* report = nullptr);

}  // namespace laueproc::cli
