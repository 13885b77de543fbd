#include "laueproc/backend.hpp"

#include <string>

#include "laueproc/error.hpp"

namespace laueproc {

namespace {

class CpuBatchAnalyzer final : public BatchAnalyzer {
 public:
  CpuBatchAnalyzer(const ProcessConfig& config, const BadPixelMask* mask) : analyzer_(config, mask) {}
  std::size_t preferred_batch() const override { return 1; }
  void analyze(const std::vector<const Frame*>& frames, std::vector<FrameAnalysis>& out) override {
    out.resize(frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const Frame& f = *frames[i];
      if (f.is_encoded() || (f.pixel_count() > 0 && !f.has_pixels()))  // never read what is not there
        throw Error("CPU backend: frame " + std::to_string(f.meta.index) +
                    (f.is_encoded() ? " is still compressed (read for a device decoder)" : " carries no pixels") +
                    ": internal error, the CPU analyzer needs decoded pixels");
      out[i] = analyzer_.analyze(f.view(), f.meta.index);
    }
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
