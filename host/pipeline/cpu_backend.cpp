#include "laueproc/backend.hpp"

namespace laueproc {

namespace {

class CpuBatchAnalyzer final : public BatchAnalyzer {
 public:
  CpuBatchAnalyzer(const ProcessConfig& config, const BadPixelMask* mask) : analyzer_(config, mask) {}
  std::size_t preferred_batch() const override { return 1; }
  void analyze(const std::vector<const Frame*>& frames, std::vector<FrameAnalysis>& out) override {
    out.resize(frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) out[i] = analyzer_.analyze(frames[i]->view(), frames[i]->meta.index);
  }
  std::string name() const override { return "cpu"; }

 private:
  CpuFrameAnalyzer analyzer_;
};

}  // namespace

std::unique_ptr<BatchAnalyzer> make_cpu_analyzer(const ProcessConfig& config, const BadPixelMask* mask) {
  return std::make_unique<CpuBatchAnalyzer>(config, mask);
}

}  // namespace laueproc
