// Scalar Philox streams on top of Random123's reference Philox4x32-10.
#include "models/philox.hpp"

#include <Random123/philox.h>

#include <numeric>

namespace baffle {

std::array<uint32_t, 4> philox_block(const stream_id& s, uint64_t block) {
  r123::Philox4x32 rng;
  r123::Philox4x32::ctr_type c = {{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                   s.stream, static_cast<uint32_t>(s.what)}};
  r123::Philox4x32::key_type k = {{static_cast<uint32_t>(s.seed), static_cast<uint32_t>(s.seed >> 32)}};
  const auto r = rng(c, k);
  return {r[0], r[1], r[2], r[3]};
}

void fill_u32(const stream_id& s, uint64_t first, std::span<uint32_t> out) {
  size_t i = 0;
  while (i < out.size()) {
    const uint64_t word = first + i;
    const auto b = philox_block(s, word / 4);
    for (uint64_t lane = word % 4; lane < 4 && i < out.size(); ++lane) out[i++] = b[lane];
  }
}

uint64_t derive_seed(uint64_t seed, purpose what, uint64_t id) {
  const stream_id s{seed, purpose::derive, static_cast<uint32_t>(what)};
  const auto b = philox_block(s, id);
  return (static_cast<uint64_t>(b[1]) << 32) | b[0];
}

namespace {
uint64_t word64(const stream_id& s, uint64_t index) {
  // Draw `index` uses block `index / 2`, lanes (0,1) or (2,3).
  const auto b = philox_block(s, index / 2);
  const int lane = static_cast<int>(index % 2) * 2;
  return (static_cast<uint64_t>(b[lane + 1]) << 32) | b[lane];
}
}  // namespace

uint64_t uniform_below(const stream_id& s, uint64_t index, uint64_t bound) {
  const unsigned __int128 prod = static_cast<unsigned __int128>(word64(s, index)) * bound;
  return static_cast<uint64_t>(prod >> 64);
}

double uniform01(const stream_id& s, uint64_t index) {
  return static_cast<double>(word64(s, index) >> 11) * 0x1.0p-53;
}

std::vector<uint32_t> sample_without_replacement(const stream_id& s, uint32_t n, uint32_t count) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  // Partial Fisher-Yates from the front: draw i picks among the n - i remaining.
  for (uint32_t i = 0; i < count && i < n; ++i) {
    const uint32_t j = i + static_cast<uint32_t>(uniform_below(s, i, n - i));
    std::swap(v[i], v[j]);
  }
  v.resize(std::min(count, n));
  return v;
}

}  // namespace baffle
