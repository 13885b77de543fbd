// The device decode bodies (kernels/unshuffle_body.cuh) on the CPU grid executor, bit for bit
// against the host decoders: the bit-unshuffle of whole bitshuffle/LZ4 chunks (every block,
// the partial last block; the raw leftover is copied beside the kernel as on the device), and
// Adler-32 against zlib.
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <vector>

#include "io/decode.hpp"
#include "kernels/cpu_grid.hpp"
#include "unshuffle_body.cuh"

namespace {

using laueproc::grid::Dim;
using laueproc::kernels::Adler32Kernel;
using laueproc::kernels::BitUnshuffleKernel;
using laueproc::kernels::UnshuffleBlock;
using laueproc::testing::GridOrder;
using laueproc::testing::run_grid_on_cpu;
namespace io = laueproc::io;
using Bytes = std::vector<std::uint8_t>;

Bytes laue_like(std::size_t bytes, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::poisson_distribution<int> noise(120);
  Bytes v(bytes);
  for (std::size_t i = 0; i < bytes; ++i) v[i] = static_cast<std::uint8_t>(i % 2 ? noise(rng) >> 6 : noise(rng));
  for (std::size_t i = 0; i < bytes; i += 997) v[i] = static_cast<std::uint8_t>(rng());  // spots, odd values
  return v;
}

// What the device path does with a bitshuffle/LZ4 chunk: LZ4-decode each block into its place
// (here liblz4 through the host decoder's layout), run the kernel over the blocks, copy the raw
// leftover. Must equal decode_bitshuffle_lz4.
TEST(UnshuffleKernel, WholeChunksEqualTheHostDecoder) {
  for (unsigned es : {1u, 2u, 4u, 8u})
    for (std::size_t n : {8u, 100u, 4096u, 5003u, 20000u})
      for (std::size_t block : {0u, 64u, 2048u}) {
        if (block * es > BitUnshuffleKernel::kMaxBlockBytes) continue;
        SCOPED_TRACE("elem " + std::to_string(es) + " n " + std::to_string(n) + " block " + std::to_string(block));
        const Bytes data = laue_like(n * es, static_cast<std::uint32_t>(n + es + block));
        const Bytes enc = io::encode_bitshuffle_lz4(data.data(), data.size(), es, block);
        Bytes host(data.size());
        io::decode_bitshuffle_lz4(enc.data(), enc.size(), host.data(), host.size(), es);
        ASSERT_EQ(host, data);

        // The shuffled blocks as nvCOMP would leave them: block b's LZ4 output at its out_offset.
        const io::BitshuffleLayout L = io::parse_bitshuffle(enc.data(), enc.size(), es, data.size());
        Bytes shuffled(data.size()), device(data.size(), 0xEE);
        std::vector<UnshuffleBlock> blocks;
        for (const auto& b : L.blocks) {
          io::bit_shuffle_block(data.data() + b.out_offset, shuffled.data() + b.out_offset, b.elems, es);
          blocks.push_back({b.out_offset, b.out_offset, static_cast<unsigned>(b.elems), es});
        }
        BitUnshuffleKernel::Params p{shuffled.data(), device.data(), blocks.data(), static_cast<unsigned>(blocks.size())};
        for (GridOrder order : {GridOrder::forward, GridOrder::reverse}) {
          std::fill(device.begin(), device.end(), 0xEE);
          run_grid_on_cpu<BitUnshuffleKernel>(Dim{static_cast<unsigned>(blocks.size()) + 1}, Dim{64}, p, order);
          std::copy(enc.begin() + static_cast<std::ptrdiff_t>(L.leftover_in_offset),
                    enc.begin() + static_cast<std::ptrdiff_t>(L.leftover_in_offset + L.leftover_bytes),
                    device.begin() + static_cast<std::ptrdiff_t>(L.leftover_out_offset));
          ASSERT_EQ(device, host);
        }
      }
}

TEST(UnshuffleKernel, OneBlockAgainstTheHostTransposeWithOddThreadCounts) {
  const unsigned es = 2, elems = 4096;
  const Bytes shuffled = laue_like(elems * es, 9);
  Bytes host(shuffled.size()), device(shuffled.size());
  io::bit_unshuffle_block(shuffled.data(), host.data(), elems, es);
  const UnshuffleBlock b{0, 0, elems, es};
  for (unsigned threads : {1u, 7u, 96u, 512u, 1024u}) {
    std::fill(device.begin(), device.end(), 0);
    run_grid_on_cpu<BitUnshuffleKernel>(Dim{1}, Dim{threads}, {shuffled.data(), device.data(), &b, 1});
    EXPECT_EQ(device, host) << threads << " threads";
  }
}

TEST(Adler32Kernel, EqualsZlibForEverySizeAndThreadCount) {
  const Bytes data = laue_like(300000, 4);
  std::vector<std::size_t> sizes = {0, 1, 5, 5552, 5553, 65536, 300000};
  std::vector<const std::uint8_t*> ptrs;
  std::vector<unsigned long long> n;
  for (std::size_t s : sizes) {
    ptrs.push_back(data.data() + (data.size() - s));
    n.push_back(s);
  }
  for (unsigned threads : {1u, 3u, 64u, 256u}) {
    std::vector<std::uint32_t> got(sizes.size(), 0);
    run_grid_on_cpu<Adler32Kernel>(Dim{static_cast<unsigned>(sizes.size())}, Dim{threads},
                                   {ptrs.data(), n.data(), got.data(), static_cast<unsigned>(sizes.size())},
                                   GridOrder::reverse);
    for (std::size_t i = 0; i < sizes.size(); ++i)
      EXPECT_EQ(got[i], ::adler32(1, ptrs[i], static_cast<uInt>(sizes[i]))) << sizes[i] << " bytes, " << threads;
  }
}

}  // namespace
