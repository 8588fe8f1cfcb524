// Conversions to bf16 and int8: the fast loops against the naive references bit for bit, on ties,
// extremes and seeded random values.
#include "models/precision.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "models/philox.hpp"

namespace baffle {
namespace {

float bits(uint32_t b) {
  return std::bit_cast<float>(b);
}

TEST(Bf16, RoundsToNearestWithTiesToEven) {
  // 1 + 2^-8 is half a bf16 ulp above 1: a tie, kept at the even 1.0.
  EXPECT_EQ(from_bf16(to_bf16(1.f + 0x1p-8f)), 1.f);
  // 1 + 3 * 2^-8 is a tie between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(from_bf16(to_bf16(1.f + 3 * 0x1p-8f)), 1.f + 0x1p-6f);
  // Just above a tie rounds up.
  EXPECT_EQ(from_bf16(to_bf16(bits(0x3f808001u))), 1.f + 0x1p-7f);
  EXPECT_EQ(from_bf16(to_bf16(-2.5f)), -2.5f);
  EXPECT_TRUE(std::isinf(from_bf16(to_bf16(std::numeric_limits<float>::max()))));
  EXPECT_TRUE(std::isinf(from_bf16(to_bf16(-std::numeric_limits<float>::infinity()))));
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // A signalling NaN whose payload sits in the dropped half must stay a NaN, not become infinity.
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(bits(0x7f800001u)))));
}

TEST(Bf16, FastRoundingEqualsTheNaiveReferenceBitForBit) {
  // Random bit patterns over every exponent (subnormals included), plus every tie pattern of the
  // dropped half around a few kept values.
  std::vector<float> values;
  const stream_id s{77, purpose::derive, 1};
  for (uint64_t i = 0; i < 200000; ++i) {
    const float v = bits(static_cast<uint32_t>(uniform01(s, i) * 4294967296.0));
    if (!std::isnan(v)) values.push_back(v);
  }
  for (uint32_t kept : {0x3f80u, 0x3f81u, 0x0001u, 0x7f7fu, 0xbf80u, 0xc2c7u})
    for (uint32_t low : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu})
      values.push_back(bits(kept << 16 | low));
  std::vector<uint16_t> fast(values.size());
  round_to_bf16(fast, values);
  for (size_t i = 0; i < values.size(); ++i) {
    const float naive = bf16_round_naive(values[i]);
    ASSERT_EQ(std::bit_cast<uint32_t>(from_bf16(fast[i])), std::bit_cast<uint32_t>(naive))
        << "first mismatch at " << i << ": " << values[i] << " (bits " << std::hex
        << std::bit_cast<uint32_t>(values[i]) << ")";
  }
}

TEST(Int8, ScalesAreSymmetricAndZeroIsSafe) {
  EXPECT_EQ(int8_scale(0.f), 1.f);
  EXPECT_EQ(int8_scale(127.f), 1.f);
  const std::vector<float> x = {-2.f, 0.5f, 1.f};
  EXPECT_EQ(max_abs(x), 2.f);
  std::vector<int8_t> q(3);
  quantize_int8(q, x, int8_scale(2.f));
  EXPECT_EQ(q[0], -127);
  EXPECT_EQ(q[1], 32);  // 0.5 * 63.5 = 31.75
  EXPECT_EQ(q[2], 64);  // 63.5: a tie, to even
}

TEST(Int8, FastQuantisationEqualsTheNaiveReference) {
  std::vector<float> x(100000);
  const stream_id s{78, purpose::derive, 2};
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>((2.0 * uniform01(s, i) - 1.0) * (1 + i % 7));
  // Exact ties of the scaled value: k + 0.5 for scale 1.
  for (int k = -20; k < 20; ++k) x.push_back(static_cast<float>(k) + 0.5f);
  for (float scale : {int8_scale(max_abs(x)), 1.f, 0.01f}) {
    std::vector<int8_t> q(x.size());
    quantize_int8(q, x, scale);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(q[i], quantize_int8_naive(x[i], scale))
          << "first mismatch at " << i << ": " << x[i] << " / " << scale;
  }
}

TEST(ForwardPrecision, NamesRoundTrip) {
  for (auto p : {forward_precision::f32, forward_precision::bf16, forward_precision::int8})
    EXPECT_EQ(parse_name<forward_precision>(name_of(p)), p);
  EXPECT_FALSE(parse_name<forward_precision>("fp16"));
}

}  // namespace
}  // namespace baffle
