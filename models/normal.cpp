// Gaussian streams: Philox4x32-10 words turned into N(0,1) floats by Box-Muller. The AVX-512 path
// and the scalar path perform the same float operations in the same order (FMAs explicit, the
// build uses -ffp-contract=off), so a stream has the same bits on every machine and for every
// slicing.
#include "models/normal.hpp"

// GCC 12's AVX-512 headers trip -Wuninitialized on their own _mm512_undefined_* (GCC bug 105593);
// the diagnostic points into the headers, so it is silenced for the header text only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#pragma GCC diagnostic pop

#include <Random123/philox.h>
#include <Random123/boxmuller.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>

namespace baffle {
namespace {

// Philox4x32 multipliers and Weyl key increments (Random123's PHILOX_M4x32_*, PHILOX_W32_*).
constexpr uint32_t philox_m0 = 0xD2511F53u;
constexpr uint32_t philox_m1 = 0xCD9E8D57u;
constexpr uint32_t philox_w0 = 0x9E3779B9u;
constexpr uint32_t philox_w1 = 0xBB67AE85u;
constexpr int philox_rounds = 10;

// Random123's uneg11<float> and u01<float>: x * 2^-31 + 2^-32 and x * 2^-32 + 2^-33 (not fused).
constexpr float uneg11_factor = 0x1p-31f;
constexpr float uneg11_half = 0x1p-32f;
constexpr float u01_factor = 0x1p-32f;
constexpr float u01_half = 0x1p-33f;
// sincospif multiplies by this float pi first; we do the same so our angle is the reference's.
constexpr float pi_f = 3.1415926535897932f;

// log: u = 2^e * m with m in [sqrt(1/2), sqrt(2)); bits of sqrt(1/2) centre the mantissa range.
constexpr uint32_t log_offset = 0x3f3504f3u;
// ln 2 split so that e * ln2_hi is exact for |e| < 2^15 (Cephes logf).
constexpr float ln2_hi = 0.693359375f;
constexpr float ln2_lo = -2.12194440e-4f;
// Cephes logf: log(1 + f) = f - f^2/2 + f^3 * P(f) on f in [sqrt(1/2) - 1, sqrt(2) - 1].
constexpr std::array<float, 9> log_p = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
                                        -1.2420140846E-1f, 1.4249322787E-1f,  -1.6668057665E-1f,
                                        2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};

// sincos: k = round(t * 2/pi), r = t - k * pi/2 with pi/2 in three parts (exact first step).
constexpr float two_over_pi = 0x1.45f306p-1f;
constexpr float pio2_1 = 0x1.921fb6p+0f;
constexpr float pio2_2 = -0x1.777a5cp-25f;
constexpr float pio2_3 = -0x1.ee59dap-50f;
// Adding then subtracting 1.5 * 2^23 rounds to the nearest integer, and the sum's low mantissa
// bits are that integer mod 4 (the quadrant), with no float-to-int conversion.
constexpr float round_magic = 0x1.8p23f;
// Cephes sinf / cosf minimax polynomials on |r| <= pi/4.
constexpr float sin_1 = -1.6666654611E-1f;
constexpr float sin_2 = 8.3321608736E-3f;
constexpr float sin_3 = -1.9515295891E-4f;
constexpr float cos_1 = 4.166664568298827E-2f;
constexpr float cos_2 = -1.388731625493765E-3f;
constexpr float cos_3 = 2.443315711809948E-5f;

constexpr uint32_t sign_bit = 0x80000000u;

/// Blocks handled per fast-path step: 16 blocks = one zmm register per Philox word, 64 outputs.
constexpr size_t group_blocks = 16;
constexpr size_t group_values = 4 * group_blocks;
/// Elements per chunk in the combining kernels: the eps buffer (4 KiB) and acc stay in L1.
constexpr size_t chunk_values = 1024;

// ---------------------------------------------------------------------------------------------
// Scalar path. Every line has a twin in the AVX-512 path below; keep them in step.

struct philox_key {
  uint32_t k0;
  uint32_t k1;
};

philox_key key_of(const stream_id& s) {
  return {static_cast<uint32_t>(s.seed), static_cast<uint32_t>(s.seed >> 32)};
}

void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

std::array<uint32_t, 4> philox_scalar(const stream_id& s, uint64_t block) {
  uint32_t c0 = static_cast<uint32_t>(block);
  uint32_t c1 = static_cast<uint32_t>(block >> 32);
  uint32_t c2 = s.stream;
  uint32_t c3 = static_cast<uint32_t>(s.what);
  auto [k0, k1] = key_of(s);
  for (int r = 0; r < philox_rounds; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(philox_m0, c0, hi0, lo0);
    mulhilo(philox_m1, c2, hi1, lo1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += philox_w0;
    k1 += philox_w1;
  }
  return {c0, c1, c2, c3};
}

/// log(u) for u in (0, 1] (u is never 0 or subnormal here).
float log_scalar(float u) {
  const uint32_t ix = std::bit_cast<uint32_t>(u) - log_offset;
  const float e = static_cast<float>(static_cast<int32_t>(ix) >> 23);
  const float m = std::bit_cast<float>((ix & 0x007fffffu) + log_offset);
  const float f = m - 1.0f;
  const float z = f * f;
  float p = log_p[0];
  for (size_t i = 1; i < log_p.size(); ++i) p = std::fma(p, f, log_p[i]);
  float y = (p * f) * z;
  y = std::fma(e, ln2_lo, y);
  y = std::fma(-0.5f, z, y);
  const float x = f + y;
  return std::fma(e, ln2_hi, x);
}

/// sin(t), cos(t) for |t| <= pi_f.
void sincos_scalar(float t, float& sin_t, float& cos_t) {
  const float q = t * two_over_pi;
  const float biased = q + round_magic;
  const uint32_t quadrant = std::bit_cast<uint32_t>(biased);
  const float k = biased - round_magic;
  float r = std::fma(-k, pio2_1, t);
  r = std::fma(-k, pio2_2, r);
  r = std::fma(-k, pio2_3, r);
  const float z = r * r;
  const float ps = std::fma(std::fma(sin_3, z, sin_2), z, sin_1);
  const float sin_r = std::fma(r * z, ps, r);
  const float pc = std::fma(std::fma(cos_3, z, cos_2), z, cos_1);
  const float cos_r = std::fma(z * z, pc, std::fma(-0.5f, z, 1.0f));
  const bool swap = (quadrant & 1u) != 0;
  const uint32_t sin_flip = (quadrant & 2u) << 30;
  const uint32_t cos_flip = ((quadrant + 1u) & 2u) << 30;
  sin_t = std::bit_cast<float>(std::bit_cast<uint32_t>(swap ? cos_r : sin_r) ^ sin_flip);
  cos_t = std::bit_cast<float>(std::bit_cast<uint32_t>(swap ? sin_r : cos_r) ^ cos_flip);
}

/// Box-Muller of two words: (x, y) = r * (sin, cos)(pi * uneg11(w0)), r = sqrt(-2 log u01(w1)).
void box_muller_scalar(uint32_t w0, uint32_t w1, float& x, float& y) {
  const float a = static_cast<float>(static_cast<int32_t>(w0)) * uneg11_factor + uneg11_half;
  const float u = static_cast<float>(w1) * u01_factor + u01_half;
  const float t = pi_f * a;
  const float radius = std::sqrt(-2.0f * log_scalar(u));
  float sin_t, cos_t;
  sincos_scalar(t, sin_t, cos_t);
  x = sin_t * radius;
  y = cos_t * radius;
}

/// dst[0..64) = normals of blocks block .. block + 15 (elements 4 * block ...).
void normal_group_scalar(const stream_id& s, uint64_t block, float* dst) {
  for (size_t j = 0; j < group_blocks; ++j) {
    const auto w = philox_scalar(s, block + j);
    box_muller_scalar(w[0], w[1], dst[4 * j], dst[4 * j + 1]);
    box_muller_scalar(w[2], w[3], dst[4 * j + 2], dst[4 * j + 3]);
  }
}

[[maybe_unused]] void u32_group_scalar(const stream_id& s, uint64_t block, uint32_t* dst) {
  for (size_t j = 0; j < group_blocks; ++j) {
    const auto w = philox_scalar(s, block + j);
    std::copy(w.begin(), w.end(), dst + 4 * j);
  }
}

// ---------------------------------------------------------------------------------------------
// AVX-512 path: 16 Philox blocks side by side, lane j = block (base + j).

#if defined(__AVX512F__)

struct philox_lanes {
  __m512i c0, c1, c2, c3;
};

/// (hi, lo) of the 32x32-bit products a[j] * m in every lane.
inline void mulhilo_avx512(__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
  // vpmuludq multiplies the even dwords into 64-bit products; odd dwords go through a shift.
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  // Swapping dword pairs (CDAB) moves a product's high half down or its low half up.
  hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_CDAB);
  lo = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
}

philox_lanes philox_avx512(const stream_id& s, uint64_t block) {
  const __m512i base_lo = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(block)));
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  philox_lanes x;
  x.c0 = _mm512_add_epi32(base_lo, lane);
  // The 64-bit block counter carries into the high word where the low word wrapped.
  const __mmask16 carry = _mm512_cmplt_epu32_mask(x.c0, base_lo);
  x.c1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(block >> 32)));
  x.c1 = _mm512_mask_add_epi32(x.c1, carry, x.c1, _mm512_set1_epi32(1));
  x.c2 = _mm512_set1_epi32(static_cast<int>(s.stream));
  x.c3 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(s.what)));
  auto [k0, k1] = key_of(s);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(philox_m0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(philox_m1));
  for (int r = 0; r < philox_rounds; ++r) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo_avx512(x.c0, m0, hi0, lo0);
    mulhilo_avx512(x.c2, m1, hi1, lo1);
    // 0x96 = a ^ b ^ c.
    x.c0 = _mm512_ternarylogic_epi32(hi1, x.c1, _mm512_set1_epi32(static_cast<int>(k0)), 0x96);
    x.c1 = lo1;
    x.c2 = _mm512_ternarylogic_epi32(hi0, x.c3, _mm512_set1_epi32(static_cast<int>(k1)), 0x96);
    x.c3 = lo0;
    k0 += philox_w0;
    k1 += philox_w1;
  }
  return x;
}

inline __m512 fma_ps(__m512 a, __m512 b, __m512 c) {
  return _mm512_fmadd_ps(a, b, c);
}

__m512 log_avx512(__m512 u) {
  const __m512i offset = _mm512_set1_epi32(static_cast<int>(log_offset));
  const __m512i ix = _mm512_sub_epi32(_mm512_castps_si512(u), offset);
  const __m512 e = _mm512_cvtepi32_ps(_mm512_srai_epi32(ix, 23));
  const __m512 m = _mm512_castsi512_ps(
      _mm512_add_epi32(_mm512_and_si512(ix, _mm512_set1_epi32(0x007fffff)), offset));
  const __m512 f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  const __m512 z = _mm512_mul_ps(f, f);
  __m512 p = _mm512_set1_ps(log_p[0]);
  for (size_t i = 1; i < log_p.size(); ++i) p = fma_ps(p, f, _mm512_set1_ps(log_p[i]));
  __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, f), z);
  y = fma_ps(e, _mm512_set1_ps(ln2_lo), y);
  y = fma_ps(_mm512_set1_ps(-0.5f), z, y);
  const __m512 x = _mm512_add_ps(f, y);
  return fma_ps(e, _mm512_set1_ps(ln2_hi), x);
}

void sincos_avx512(__m512 t, __m512& sin_t, __m512& cos_t) {
  const __m512 magic = _mm512_set1_ps(round_magic);
  const __m512 q = _mm512_mul_ps(t, _mm512_set1_ps(two_over_pi));
  const __m512 biased = _mm512_add_ps(q, magic);
  const __m512i quadrant = _mm512_castps_si512(biased);
  const __m512 k = _mm512_sub_ps(biased, magic);
  const __m512 neg_k = _mm512_castsi512_ps(
      _mm512_xor_si512(_mm512_castps_si512(k), _mm512_set1_epi32(static_cast<int>(sign_bit))));
  __m512 r = fma_ps(neg_k, _mm512_set1_ps(pio2_1), t);
  r = fma_ps(neg_k, _mm512_set1_ps(pio2_2), r);
  r = fma_ps(neg_k, _mm512_set1_ps(pio2_3), r);
  const __m512 z = _mm512_mul_ps(r, r);
  const __m512 ps =
      fma_ps(fma_ps(_mm512_set1_ps(sin_3), z, _mm512_set1_ps(sin_2)), z, _mm512_set1_ps(sin_1));
  const __m512 sin_r = fma_ps(_mm512_mul_ps(r, z), ps, r);
  const __m512 pc =
      fma_ps(fma_ps(_mm512_set1_ps(cos_3), z, _mm512_set1_ps(cos_2)), z, _mm512_set1_ps(cos_1));
  const __m512 cos_r =
      fma_ps(_mm512_mul_ps(z, z), pc, fma_ps(_mm512_set1_ps(-0.5f), z, _mm512_set1_ps(1.0f)));
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i two = _mm512_set1_epi32(2);
  const __mmask16 swap = _mm512_test_epi32_mask(quadrant, one);
  const __m512i sin_flip = _mm512_slli_epi32(_mm512_and_si512(quadrant, two), 30);
  const __m512i cos_flip =
      _mm512_slli_epi32(_mm512_and_si512(_mm512_add_epi32(quadrant, one), two), 30);
  const __m512 s = _mm512_mask_blend_ps(swap, sin_r, cos_r);
  const __m512 c = _mm512_mask_blend_ps(swap, cos_r, sin_r);
  sin_t = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(s), sin_flip));
  cos_t = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(c), cos_flip));
}

void box_muller_avx512(__m512i w0, __m512i w1, __m512& x, __m512& y) {
  const __m512 a =
      _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(w0), _mm512_set1_ps(uneg11_factor)),
                    _mm512_set1_ps(uneg11_half));
  const __m512 u = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepu32_ps(w1), _mm512_set1_ps(u01_factor)),
                                 _mm512_set1_ps(u01_half));
  const __m512 t = _mm512_mul_ps(_mm512_set1_ps(pi_f), a);
  const __m512 radius = _mm512_sqrt_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), log_avx512(u)));
  __m512 sin_t, cos_t;
  sincos_avx512(t, sin_t, cos_t);
  x = _mm512_mul_ps(sin_t, radius);
  y = _mm512_mul_ps(cos_t, radius);
}

/// Stores a[j], b[j], c[j], d[j] at dst[4j .. 4j+3] for j in 0..15 (a 4 x 16 transpose).
void store_interleaved(__m512 a, __m512 b, __m512 c, __m512 d, float* dst) {
  // Within 128-bit lanes: ab_lo = a0 b0 a1 b1 | a4 b4 a5 b5 | ...
  const __m512 ab_lo = _mm512_unpacklo_ps(a, b);
  const __m512 ab_hi = _mm512_unpackhi_ps(a, b);
  const __m512 cd_lo = _mm512_unpacklo_ps(c, d);
  const __m512 cd_hi = _mm512_unpackhi_ps(c, d);
  // t0 holds quads j = 0, 4, 8, 12; t1: 1, 5, 9, 13; t2: 2, 6, 10, 14; t3: 3, 7, 11, 15.
  const __m512 t0 =
      _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab_lo), _mm512_castps_pd(cd_lo)));
  const __m512 t1 =
      _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab_lo), _mm512_castps_pd(cd_lo)));
  const __m512 t2 =
      _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab_hi), _mm512_castps_pd(cd_hi)));
  const __m512 t3 =
      _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab_hi), _mm512_castps_pd(cd_hi)));
  // Transpose the 4 x 4 grid of 128-bit quads.
  const __m512 u0 = _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));  // 0 8 1 9
  const __m512 u1 = _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(2, 0, 2, 0));  // 2 10 3 11
  const __m512 u2 = _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));  // 4 12 5 13
  const __m512 u3 = _mm512_shuffle_f32x4(t2, t3, _MM_SHUFFLE(3, 1, 3, 1));  // 6 14 7 15
  _mm512_storeu_ps(dst, _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)));
  _mm512_storeu_ps(dst + 16, _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(2, 0, 2, 0)));
  _mm512_storeu_ps(dst + 32, _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
  _mm512_storeu_ps(dst + 48, _mm512_shuffle_f32x4(u2, u3, _MM_SHUFFLE(3, 1, 3, 1)));
}

void normal_group_avx512(const stream_id& s, uint64_t block, float* dst) {
  const philox_lanes w = philox_avx512(s, block);
  __m512 x0, y0, x1, y1;
  box_muller_avx512(w.c0, w.c1, x0, y0);
  box_muller_avx512(w.c2, w.c3, x1, y1);
  store_interleaved(x0, y0, x1, y1, dst);
}

void u32_group_avx512(const stream_id& s, uint64_t block, uint32_t* dst) {
  const philox_lanes w = philox_avx512(s, block);
  store_interleaved(_mm512_castsi512_ps(w.c0), _mm512_castsi512_ps(w.c1), _mm512_castsi512_ps(w.c2),
                    _mm512_castsi512_ps(w.c3), reinterpret_cast<float*>(dst));
}

#endif  // __AVX512F__

void normal_group(const stream_id& s, uint64_t block, float* dst) {
#if defined(__AVX512F__)
  normal_group_avx512(s, block, dst);
#else
  normal_group_scalar(s, block, dst);
#endif
}

// ---------------------------------------------------------------------------------------------
// Slicing: whole groups go straight to the output; a ragged head or tail is generated whole into
// a small buffer and copied, so element i's bits never depend on where a call starts or stops.

template <size_t GroupValues, class T, class Generate>
void fill_by_groups(uint64_t first, std::span<T> out, Generate&& generate) {
  static_assert(GroupValues % 4 == 0);
  size_t i = 0;
  while (i < out.size()) {
    const uint64_t pos = first + i;
    const uint64_t block = pos / 4;
    const size_t offset = static_cast<size_t>(pos % 4);
    const size_t left = out.size() - i;
    if (offset == 0 && left >= GroupValues) {
      generate(block, out.data() + i);
      i += GroupValues;
    } else {
      alignas(64) std::array<T, GroupValues> buffer;
      generate(block, buffer.data());
      const size_t take = std::min(GroupValues - offset, left);
      std::copy_n(buffer.begin() + offset, take, out.begin() + i);
      i += take;
    }
  }
}

/// Calls body(offset, eps) for consecutive chunks of out's index range, eps = normals of stream s
/// at elements first + offset ...; chunks after the first start on a group boundary of the stream.
template <class Body>
void for_each_normal_chunk(const stream_id& s, uint64_t first, size_t n, Body&& body) {
  alignas(64) std::array<float, chunk_values> eps;
  size_t i = 0;
  while (i < n) {
    const size_t misalign = static_cast<size_t>((first + i) % group_values);
    const size_t len = std::min(n - i, chunk_values - misalign);
    const std::span<float> chunk(eps.data(), len);
    fill_normal(s, first + i, chunk);
    body(i, std::span<const float>(chunk));
    i += len;
  }
}

}  // namespace

void fill_normal(const stream_id& s, uint64_t first, std::span<float> out) {
  fill_by_groups<group_values>(first, out,
                               [&](uint64_t block, float* dst) { normal_group(s, block, dst); });
}

void fill_normal_reference(const stream_id& s, uint64_t first, std::span<float> out) {
  fill_by_groups<4>(first, out, [&](uint64_t block, float* dst) {
    const auto w = philox_block(s, block);
    const r123::float2 p = r123::boxmuller(w[0], w[1]);
    const r123::float2 q = r123::boxmuller(w[2], w[3]);
    dst[0] = p.x;
    dst[1] = p.y;
    dst[2] = q.x;
    dst[3] = q.y;
  });
}

void add_scaled_normal(const stream_id& s, uint64_t first, float scale, std::span<const float> w,
                       std::span<float> out) {
  assert(w.size() == out.size());
  for_each_normal_chunk(s, first, out.size(), [&](size_t at, std::span<const float> eps) {
    const float* src = w.data() + at;
    float* dst = out.data() + at;
    for (size_t j = 0; j < eps.size(); ++j) {
      const float step = scale * eps[j];
      dst[j] = src[j] + step;
    }
  });
}

void axpy_normal(const stream_id& s, uint64_t first, float coeff, std::span<float> acc) {
  for_each_normal_chunk(s, first, acc.size(), [&](size_t at, std::span<const float> eps) {
    float* dst = acc.data() + at;
    for (size_t j = 0; j < eps.size(); ++j) {
      const float step = coeff * eps[j];
      dst[j] = dst[j] + step;
    }
  });
}

void accumulate_normals(std::span<const stream_id> streams, std::span<const float> coeffs,
                        uint64_t first, std::span<float> acc) {
  assert(streams.size() == coeffs.size());
  alignas(64) std::array<float, chunk_values> eps;
  size_t i = 0;
  // Chunk outer, stream inner: each acc chunk stays in L1 across all streams, and every element
  // still sees the streams in order 0..n-1, exactly as the axpy_normal sequence would.
  while (i < acc.size()) {
    const size_t misalign = static_cast<size_t>((first + i) % group_values);
    const size_t len = std::min(acc.size() - i, chunk_values - misalign);
    float* dst = acc.data() + i;
    for (size_t k = 0; k < streams.size(); ++k) {
      fill_normal(streams[k], first + i, std::span<float>(eps.data(), len));
      const float coeff = coeffs[k];
      for (size_t j = 0; j < len; ++j) {
        const float step = coeff * eps[j];
        dst[j] = dst[j] + step;
      }
    }
    i += len;
  }
}

namespace detail {

void fill_normal_scalar(const stream_id& s, uint64_t first, std::span<float> out) {
  fill_by_groups<group_values>(
      first, out, [&](uint64_t block, float* dst) { normal_group_scalar(s, block, dst); });
}

void fill_u32_fast(const stream_id& s, uint64_t first, std::span<uint32_t> out) {
  fill_by_groups<group_values>(first, out, [&](uint64_t block, uint32_t* dst) {
#if defined(__AVX512F__)
    u32_group_avx512(s, block, dst);
#else
    u32_group_scalar(s, block, dst);
#endif
  });
}

}  // namespace detail

}  // namespace baffle
