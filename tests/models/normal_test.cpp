// Tests for the Gaussian streams: Philox words against published known answers, the fast normals
// against the Random123 reference, the scalar fallback against the AVX-512 path bit for bit, slice
// consistency, moments, and the combining kernels against naive loops.
#include "models/normal.hpp"

#include <Random123/philox.h>
#include <gtest/gtest.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace baffle {
namespace {

constexpr stream_id test_stream{0x0123456789abcdefULL, purpose::perturbation, 7};

std::vector<float> normals(const stream_id& s, uint64_t first, size_t n) {
  std::vector<float> v(n);
  fill_normal(s, first, v);
  return v;
}

/// Index of the first element whose bits differ, if any.
std::optional<size_t> first_bit_mismatch(std::span<const float> a, std::span<const float> b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) return i;
  return std::nullopt;
}

void expect_bit_equal(std::span<const float> got, std::span<const float> want,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  if (const auto i = first_bit_mismatch(got, want))
    FAIL() << what << ": first mismatch at index " << *i << ": got " << got[*i] << " (0x"
           << std::hex << std::bit_cast<uint32_t>(got[*i]) << "), want " << std::dec << want[*i]
           << " (0x" << std::hex << std::bit_cast<uint32_t>(want[*i]) << ")";
}

/// Distance in units in the last place between two finite floats of any sign.
int64_t ulp_distance(float a, float b) {
  auto key = [](float x) {
    const int32_t i = std::bit_cast<int32_t>(x);
    return i < 0 ? static_cast<int64_t>(INT32_MIN) - i : static_cast<int64_t>(i);
  };
  return std::llabs(key(a) - key(b));
}

struct kat {
  std::array<uint32_t, 4> ctr;
  std::array<uint32_t, 2> key;
  std::array<uint32_t, 4> expected;
};

// Philox4x32-10 known answers published with Random123 (examples/kat_vectors).
constexpr std::array<kat, 3> philox_kats = {{
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
}};

stream_id stream_of(const kat& k) {
  return {(static_cast<uint64_t>(k.key[1]) << 32) | k.key[0], static_cast<purpose>(k.ctr[3]),
          k.ctr[2]};
}

uint64_t block_of(const kat& k) {
  return (static_cast<uint64_t>(k.ctr[1]) << 32) | k.ctr[0];
}

TEST(PhiloxBlock, Random123MatchesPublishedKnownAnswers) {
  for (const kat& k : philox_kats) {
    r123::Philox4x32 rng;
    const auto r = rng({{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}}, {{k.key[0], k.key[1]}});
    for (int w = 0; w < 4; ++w) EXPECT_EQ(r[w], k.expected[w]) << "word " << w;
  }
}

TEST(PhiloxBlock, StreamBlockMapsToCounterAndKeyAndMatchesKnownAnswers) {
  for (const kat& k : philox_kats) EXPECT_EQ(philox_block(stream_of(k), block_of(k)), k.expected);
}

TEST(FastPhilox, WordsMatchKnownAnswersWhoseBlockIsAddressable) {
  // Element indices are 64-bit, so only blocks below 2^62 are reachable through a stream.
  int checked = 0;
  for (const kat& k : philox_kats) {
    if (block_of(k) >= (uint64_t{1} << 62)) continue;
    std::array<uint32_t, 4> got{};
    detail::fill_u32_fast(stream_of(k), 4 * block_of(k), got);
    EXPECT_EQ(got, k.expected);
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(FastPhilox, WordsEqualRandom123ForAnyOffsetAndAcrossTheCounterCarry) {
  // The second start straddles the low counter word's wrap at block 2^32.
  // The last start reaches the final addressable element, 2^64 - 1.
  for (const uint64_t first :
       {uint64_t{0}, 4 * ((uint64_t{1} << 32) - 9) + 1, uint64_t{12345}, ~uint64_t{0} - 66}) {
    for (const size_t n : {size_t{1}, size_t{3}, size_t{64}, size_t{67}}) {
      std::vector<uint32_t> fast(n), ref(n);
      detail::fill_u32_fast(test_stream, first, fast);
      fill_u32(test_stream, first, ref);
      EXPECT_EQ(fast, ref) << "first " << first << " n " << n;
    }
  }
  std::vector<uint32_t> fast(1000), ref(1000);
  detail::fill_u32_fast(test_stream, 5, fast);
  fill_u32(test_stream, 5, ref);
  EXPECT_EQ(fast, ref);
}

TEST(FillNormal, FastPathIsWithinAFewUlpOfTheRandom123Reference) {
  const size_t n = 2'000'000;
  std::vector<float> fast(n), ref(n);
  fill_normal(test_stream, 0, fast);
  fill_normal_reference(test_stream, 0, ref);
  int64_t worst_ulp = 0;
  double worst_rel = 0;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(std::isfinite(fast[i])) << "index " << i;
    const int64_t ulp = ulp_distance(fast[i], ref[i]);
    const double rel = std::abs(static_cast<double>(fast[i]) - ref[i]) / std::abs(ref[i]);
    // Box-Muller is r * sin(t): a few ulp each in log, sqrt, sin and the product.
    ASSERT_LE(ulp, 8) << "first mismatch at index " << i << ": fast " << fast[i] << ", reference "
                      << ref[i] << " (relative error " << rel << ")";
    worst_ulp = std::max(worst_ulp, ulp);
    worst_rel = std::max(worst_rel, rel);
  }
  EXPECT_LT(worst_rel, 1e-6);
  std::printf("fast vs reference over %zu normals: max %lld ulp, max relative error %.3g\n", n,
              static_cast<long long>(worst_ulp), worst_rel);
}

TEST(FillNormal, ScalarFallbackIsBitIdenticalToFastPath) {
  const stream_id other{42, purpose::init, 0xffffffffu};
  for (const stream_id& s : {test_stream, other}) {
    for (const uint64_t first :
         {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{63}, uint64_t{64},
          uint64_t{1000001}, 4 * ((uint64_t{1} << 32) - 5) + 2, (uint64_t{1} << 61) + 3}) {
      for (const size_t n : {size_t{0}, size_t{1}, size_t{5}, size_t{63}, size_t{64}, size_t{65},
                             size_t{129}, size_t{4097}, size_t{100'003}}) {
        std::vector<float> fast(n), scalar(n);
        fill_normal(s, first, fast);
        detail::fill_normal_scalar(s, first, scalar);
        expect_bit_equal(fast, scalar,
                         "seed " + std::to_string(s.seed) + " first " + std::to_string(first) +
                             " n " + std::to_string(n));
      }
    }
  }
}

#if defined(__SSE__)
TEST(FillNormal, FlushToZeroAndDenormalsAreZeroLeaveTheBitsUnchanged) {
  // Compute threads run with FTZ/DAZ set; no intermediate here is subnormal, so bits must not move.
  const std::vector<float> plain = normals(test_stream, 17, 100'000);
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
  std::vector<float> flushed(plain.size()), scalar(plain.size());
  fill_normal(test_stream, 17, flushed);
  detail::fill_normal_scalar(test_stream, 17, scalar);
  _mm_setcsr(saved);
  expect_bit_equal(flushed, plain, "fast path under FTZ/DAZ");
  expect_bit_equal(scalar, plain, "scalar path under FTZ/DAZ");
}
#endif

TEST(FillNormal, AnySliceEqualsTheSameSliceOfALongerCall) {
  for (const uint64_t base : {uint64_t{0}, (uint64_t{1} << 40) + 3}) {
    const std::vector<float> whole = normals(test_stream, base, 5000);
    for (const size_t start : {0, 1, 2, 3, 4, 5, 61, 64, 127, 1000, 4999}) {
      for (const size_t n : {0, 1, 2, 3, 7, 63, 64, 65, 200, 1500}) {
        if (start + n > whole.size()) continue;
        const std::vector<float> part = normals(test_stream, base + start, n);
        expect_bit_equal(part, std::span(whole).subspan(start, n),
                         "base " + std::to_string(base) + " start " + std::to_string(start) +
                             " n " + std::to_string(n));
      }
    }
  }
}

TEST(FillNormal, ReferenceSlicesAgreeToo) {
  std::vector<float> whole(300), part(101);
  fill_normal_reference(test_stream, 10, whole);
  fill_normal_reference(test_stream, 10 + 37, part);
  expect_bit_equal(part, std::span(whole).subspan(37, 101), "reference slice");
}

TEST(FillNormal, DistinctSeedsPurposesAndStreamsGiveDistinctNormals) {
  const std::vector<float> a = normals(test_stream, 0, 64);
  for (const stream_id& s : {stream_id{test_stream.seed + 1, test_stream.what, test_stream.stream},
                             stream_id{test_stream.seed, purpose::init, test_stream.stream},
                             stream_id{test_stream.seed, test_stream.what, test_stream.stream + 1}})
    EXPECT_NE(a, normals(s, 0, 64));
}

TEST(FillNormal, MillionNormalsHaveStandardMoments) {
  const size_t n = 1'000'000;
  const std::vector<float> v = normals(test_stream, 0, n);
  double sum = 0, sum2 = 0, sum4 = 0;
  size_t within_one = 0;
  for (const float x : v) {
    sum += x;
    sum2 += static_cast<double>(x) * x;
    sum4 += static_cast<double>(x) * x * x * x;
    within_one += std::abs(x) < 1.0f;
  }
  const double mean = sum / n;
  const double var = sum2 / n - mean * mean;
  // Five standard errors: fixed seed, so this is a check of the transform, not of luck.
  EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(var, 1.0, 5.0 * std::sqrt(2.0 / n));
  EXPECT_NEAR(sum4 / n, 3.0, 5.0 * std::sqrt(96.0 / n));
  const double p = 0.6826894921370859;  // P(|Z| < 1)
  EXPECT_NEAR(static_cast<double>(within_one) / n, p, 5.0 * std::sqrt(p * (1 - p) / n));
}

TEST(AddScaledNormal, EqualsWeightsPlusScaledNormalsBitForBit) {
  for (const uint64_t first : {uint64_t{0}, uint64_t{5}, uint64_t{1021}}) {
    const size_t n = 3001;
    std::vector<float> w(n);
    fill_normal({9, purpose::init, 0}, 0, w);
    const float scale = 1e-3f;
    const std::vector<float> eps = normals(test_stream, first, n);
    std::vector<float> want(n);
    for (size_t i = 0; i < n; ++i) want[i] = w[i] + scale * eps[i];

    std::vector<float> out(n);
    add_scaled_normal(test_stream, first, scale, w, out);
    expect_bit_equal(out, want, "separate output, first " + std::to_string(first));

    add_scaled_normal(test_stream, first, scale, w, w);  // in place
    expect_bit_equal(w, want, "in place, first " + std::to_string(first));
  }
}

TEST(AxpyNormal, AddsScaledNormalsBitForBit) {
  const size_t n = 2500;
  const uint64_t first = 77;
  std::vector<float> acc(n);
  fill_normal({3, purpose::init, 1}, 0, acc);
  std::vector<float> want = acc;
  const std::vector<float> eps = normals(test_stream, first, n);
  for (size_t i = 0; i < n; ++i) want[i] += -0.37f * eps[i];
  axpy_normal(test_stream, first, -0.37f, acc);
  expect_bit_equal(acc, want, "axpy");
}

TEST(AccumulateNormals, EqualsNaiveStreamByStreamLoopBitForBit) {
  std::vector<stream_id> streams;
  std::vector<float> coeffs;
  for (uint32_t k = 0; k < 13; ++k) {
    streams.push_back({0xfeed, purpose::perturbation, k * 3 + 1});
    coeffs.push_back(0.1f * static_cast<float>(k) - 0.55f);
  }
  for (const uint64_t first : {uint64_t{0}, uint64_t{3}, uint64_t{2049}}) {
    for (const size_t n : {size_t{1}, size_t{100}, size_t{1024}, size_t{5000}}) {
      std::vector<float> acc(n);
      fill_normal({1, purpose::init, 2}, 0, acc);
      std::vector<float> want = acc;
      for (size_t k = 0; k < streams.size(); ++k) {
        const std::vector<float> eps = normals(streams[k], first, n);
        for (size_t i = 0; i < n; ++i) want[i] += coeffs[k] * eps[i];
      }
      accumulate_normals(streams, coeffs, first, acc);
      expect_bit_equal(acc, want, "first " + std::to_string(first) + " n " + std::to_string(n));
    }
  }
}

TEST(AccumulateNormals, EqualsASequenceOfAxpyCalls) {
  const std::vector<stream_id> streams = {{5, purpose::perturbation, 0},
                                          {5, purpose::perturbation, 1}};
  const std::vector<float> coeffs = {2.0f, -0.25f};
  std::vector<float> acc(777, 1.0f), want(777, 1.0f);
  accumulate_normals(streams, coeffs, 11, acc);
  for (size_t k = 0; k < streams.size(); ++k) axpy_normal(streams[k], 11, coeffs[k], want);
  expect_bit_equal(acc, want, "accumulate vs axpy sequence");
}

}  // namespace
}  // namespace baffle
