// DeviceDecoder (nvCOMP + our kernels) against the host decoders on simulated Laue frames:
// bitshuffle/LZ4 and zlib chunks, a frame with pixels, a corrupt chunk that fails its frame only;
// then the CUDA analyzer with device decoding against the same analyzer given the pixels, bit
// for bit, and against the CPU backend. Skips without a device or without nvCOMP in the build.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda_util.hpp"
#include "cuda/device_decode.hpp"
#include "io/decode.hpp"
#include "kernels/frames.hpp"
#include "laueproc/backend.hpp"
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

std::vector<std::uint8_t> zlib_chunk(const Frame& f, int level) {
  const std::size_t bytes = f.pixel_count() * 2;
  uLongf size = compressBound(static_cast<uLong>(bytes));
  std::vector<std::uint8_t> out(size);
  EXPECT_EQ(compress2(out.data(), &size, reinterpret_cast<const Bytef*>(f.pixel_data()), static_cast<uLong>(bytes), level),
            Z_OK);
  out.resize(size);
  return out;
}

// The same frame still compressed, its chunk in `memory`'s block when given (as the reader puts it).
Frame encoded_copy(const Frame& f, EncodedFrame::Codec codec, const std::shared_ptr<FrameMemory>& memory) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(f.pixel_data());
  const std::vector<std::uint8_t> chunk = codec == EncodedFrame::Codec::zlib
                                              ? zlib_chunk(f, 1)
                                              : io::encode_bitshuffle_lz4(p, f.pixel_count() * 2, 2);
  Frame g;
  g.meta = f.meta;
  g.width = f.width;
  g.height = f.height;
  g.memory = memory;
  std::memcpy(g.prepare_encoded(codec, chunk.size()), chunk.data(), chunk.size());
  return g;
}

void expect_identical(const FrameAnalysis& a, const FrameAnalysis& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.noise_sigma, b.noise_sigma);
  EXPECT_EQ(a.background_level, b.background_level);
  ASSERT_EQ(a.peaks.size(), b.peaks.size());
  for (std::size_t k = 0; k < a.peaks.size(); ++k) {
    const Peak &p = a.peaks[k], &q = b.peaks[k];
    EXPECT_TRUE(p.x == q.x && p.y == q.y && p.intensity == q.intensity && p.peak_value == q.peak_value &&
                p.npix == q.npix && p.mxx == q.mxx && p.myy == q.myy && p.mxy == q.mxy && p.a == q.a && p.b == q.b &&
                p.theta_deg == q.theta_deg && p.n_maxima == q.n_maxima && p.saturated == q.saturated &&
                p.edge == q.edge && p.snr == q.snr)
        << "peak " << k;
  }
}

// Compressed bytes to the GPU, decoded there, analysed: the same peaks as the frames' pixels
// uploaded (bit for bit: the device sees the same pixels), and the CPU backend's peaks. Chunks
// in pinned blocks and in ordinary memory, pixel frames among them, a constant frame, a corrupt
// chunk that fails its frame only.
TEST(DeviceDecode, AnalysisEqualsTheHostDecodedPathBitForBit) {
  if (!cuda::DeviceDecoder::available()) GTEST_SKIP() << "built without nvCOMP";
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  std::vector<Frame> pixels;
  for (int i = 0; i < 6; ++i) pixels.push_back(testing::sim_frame(1024, 768, i));
  pixels.push_back(testing::flat_frame(1024, 768, 321, 6));
  pixels.push_back(testing::blobs_and_streaks(1024, 768, 7));
  auto pinned = cuda::make_pinned_frame_memory(std::size_t{64} << 20);
  std::vector<Frame> mixed;
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    if (i == 2) {
      mixed.push_back(pixels[i]);  // a frame the reader decoded on the host
      continue;
    }
    const auto codec = i % 2 ? EncodedFrame::Codec::zlib : EncodedFrame::Codec::bitshuffle_lz4;
    mixed.push_back(encoded_copy(pixels[i], codec, i < 4 ? pinned : nullptr));
  }
  ASSERT_TRUE(mixed[0].block && mixed[0].block->page_locked());
  std::vector<const Frame*> host_ptrs, device_ptrs;
  for (const auto& f : pixels) host_ptrs.push_back(&f);
  for (const auto& f : mixed) device_ptrs.push_back(&f);

  const ProcessConfig config;
  cuda::CudaOptions plain, decode;
  decode.device_decode = true;
  decode.batch = plain.batch = 4;  // several sub-batches
  auto uploaded = cuda::make_cuda_analyzer(config, nullptr, plain);
  auto decoded = cuda::make_cuda_analyzer(config, nullptr, decode);
  auto cpu = make_cpu_analyzer(config);
  EXPECT_TRUE(decoded->accepts_encoded());
  std::vector<FrameAnalysis> a, b, c;
  uploaded->analyze(host_ptrs, a);
  decoded->analyze(device_ptrs, b);
  cpu->analyze(host_ptrs, c);
  ASSERT_EQ(a.size(), pixels.size());
  ASSERT_EQ(b.size(), pixels.size());
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    expect_identical(a[i], b[i], "frame " + std::to_string(i) + ": device decoding vs pixels uploaded");
    EXPECT_EQ(c[i].status, b[i].status);
    EXPECT_EQ(c[i].peaks.size(), b[i].peaks.size()) << "frame " << i << " against the CPU backend";
  }
  EXPECT_GT(b[0].peaks.size(), 0u);

  // A corrupt chunk fails its own frame, named; the others are unchanged.
  Frame bad = encoded_copy(pixels[1], EncodedFrame::Codec::zlib, nullptr);
  bad.encoded.bytes[bad.encoded.bytes.size() / 2] ^= 0x55;
  bad.encoded.bytes.back() ^= 1;
  std::vector<const Frame*> with_bad = {&mixed[0], &bad, &mixed[3]};
  decoded->analyze(with_bad, b);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_NE(b[1].status, "ok");
  EXPECT_NE(b[1].status.find("frame 1"), std::string::npos) << b[1].status;
  expect_identical(a[0], b[0], "beside a corrupt chunk");
  expect_identical(a[3], b[2], "beside a corrupt chunk");
}

}  // namespace
}  // namespace laueproc
