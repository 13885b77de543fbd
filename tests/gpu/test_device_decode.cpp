// DeviceDecoder (nvCOMP + our kernels) against the host decoders on simulated Laue frames:
// bitshuffle/LZ4 and zlib chunks, a frame with pixels, a corrupt chunk that fails its frame only.
// Skips without a device or without nvCOMP in the build.
#include <gtest/gtest.h>
#include <zlib.h>

#include <vector>

#include "cuda/cuda_util.hpp"
#include "cuda/device_decode.hpp"
#include "io/decode.hpp"
#include "laueproc/cuda.hpp"
#include "laueproc/sim.hpp"

namespace laueproc {
namespace {

TEST(DeviceDecode, EqualsTheHostDecoders) {
  if (!cuda::DeviceDecoder::available()) GTEST_SKIP() << "built without nvCOMP";
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  sim::SimConfig c;
  c.width = 512;
  c.height = 384;
  c.grid_nx = 4;
  c.grid_ny = 1;
  const sim::ScanSimulator simulator(c);
  const std::size_t pixels = 512 * 384, bytes = pixels * 2;
  std::vector<Frame> frames(5);
  std::vector<std::vector<std::uint16_t>> truth(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    simulator.render(static_cast<std::int64_t>(i % 4), truth[i], nullptr);
    Frame& f = frames[i];
    f.width = 512;
    f.height = 384;
    f.meta.index = static_cast<std::int64_t>(i);
    const auto* p = reinterpret_cast<const std::uint8_t*>(truth[i].data());
    if (i == 0 || i == 3) {
      f.encoded.codec = EncodedFrame::Codec::bitshuffle_lz4;
      f.encoded.bytes = io::encode_bitshuffle_lz4(p, bytes, 2);
    } else if (i == 1 || i == 4) {
      uLongf size = compressBound(static_cast<uLong>(bytes));
      f.encoded.bytes.resize(size);
      ASSERT_EQ(compress2(f.encoded.bytes.data(), &size, p, static_cast<uLong>(bytes), i == 1 ? 1 : 6), Z_OK);
      f.encoded.bytes.resize(size);
      f.encoded.codec = EncodedFrame::Codec::zlib;
    } else {
      f.pixels = truth[i];
    }
  }
  frames[4].encoded.bytes[frames[4].encoded.bytes.size() - 1] ^= 1;  // Adler-32 no longer matches
  std::vector<const Frame*> ptrs;
  for (const auto& f : frames) ptrs.push_back(&f);
  cuda::DeviceBuffer<std::uint16_t> device(frames.size() * pixels);
  cuda::Stream stream;
  cuda::DeviceDecoder decoder;
  const auto errors = decoder.decode(ptrs, device.get(), stream.get());
  std::vector<std::uint16_t> back(frames.size() * pixels);
  LAUEPROC_CUDA_CHECK(cudaMemcpy(back.data(), device.get(), back.size() * 2, cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(errors[i], "") << i;
    EXPECT_TRUE(std::equal(truth[i].begin(), truth[i].end(), back.begin() + static_cast<std::ptrdiff_t>(i * pixels)))
        << "frame " << i;
  }
  EXPECT_NE(errors[4].find("Adler-32"), std::string::npos) << errors[4];
}

}  // namespace
}  // namespace laueproc
