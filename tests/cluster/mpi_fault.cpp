// A rank whose analysis fails mid-run, for tests/cluster/test_mpi.cpp: run as
//   mpirun -n 2 laueproc_mpi_fault RESULTS.h5
// Static hand-out gives rank 1 frames 20-39, and its frame source throws a scan-level
// InputError from frame 13 on (a file vanished); the driver must stop the job, keep every
// finished frame in rank 0's journal, and fail with one line naming rank 1 and the frames it
// held. Prints rank 0's exit code and error on stdout.
#include <cstdio>
#include <string>

#include "cluster/mpi.hpp"
#include "laueproc/error.hpp"
#include "laueproc/output.hpp"

using namespace laueproc;

namespace {

constexpr std::int64_t kFrames = 40;
constexpr int kSize = 128;

// Flat frames with one bright spot; frames from 13 on are unreadable on rank 1.
class FailingSource final : public FrameSource {
 public:
  explicit FailingSource(int rank) : rank_(rank) {
    info_.n_frames = kFrames;
    info_.width = info_.height = kSize;
    info_.dtype = "uint16";
    info_.files = {"fake.h5"};
    info_.dataset = "/entry/data/data";
  }
  const ScanInfo& info() const override { return info_; }
  void read(std::int64_t index, Frame& out) override {
    if (rank_ == 1 && index >= 13) throw InputError("fake.h5", "disk vanished while reading frame " + std::to_string(index));
    out.meta = FrameMeta{};
    out.meta.index = index;
    out.width = out.height = kSize;
    out.error.clear();
    out.pixels.assign(static_cast<std::size_t>(kSize) * kSize, 100);
    for (int y = 60; y < 66; ++y)
      for (int x = 60; x < 66; ++x) out.pixels[static_cast<std::size_t>(y) * kSize + x] = 5000;
  }

 private:
  int rank_;
  ScanInfo info_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mpirun -n 2 laueproc_mpi_fault RESULTS.h5\n");
    return 2;
  }
  cluster::MpiSession session;
  FailingSource source(session.rank());
  ProcessConfig config;
  PipelineOptions options;
  options.threads = 1;
  options.readers = 1;
  std::unique_ptr<ResultSink> sink;
  if (session.rank() == 0) {
    RunInfo info;
    info.program_version = "test";
    info.input_files = source.info().files;
    SinkOptions o;
    o.results_h5 = argv[1];
    o.frames_total = kFrames;
    sink = std::make_unique<ResultSink>(o, info);
  }
  cluster::DistributedOptions d;
  d.mode = cluster::Distribution::static_blocks;
  d.frames_per_request = 2;
  const cluster::DistributedReport report =
      cluster::run_distributed(session, source, config, options, sink.get(), d);
  if (session.rank() == 0) std::printf("exit %d: %s\n", report.exit_code, report.error.c_str());
  return report.exit_code;
}
