// Conversions to bf16 and int8: bit arithmetic and plain loops that GCC vectorises, and naive
// references from the definitions (frexp/ldexp in double, rounding written out).
#include "models/precision.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace baffle {

namespace {

/// x rounded to an integer, halves to even, written out (the naive references' rounding).
double round_half_even(double x) {
  const double f = std::floor(x);
  const double d = x - f;
  if (d > 0.5) return f + 1.0;
  if (d < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

}  // namespace

uint16_t to_bf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  // Adding 0x7fff plus the lowest kept bit carries into the kept half exactly when the dropped
  // half is above one half, or equal to it with an odd kept half: round to nearest, ties to even.
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

float from_bf16(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

void round_to_bf16(std::span<uint16_t> out, std::span<const float> in) {
  const size_t n = std::min(out.size(), in.size());
  const float* x = in.data();
  uint16_t* y = out.data();
  for (size_t i = 0; i < n; ++i) y[i] = to_bf16(x[i]);
}

float bf16_round_naive(float x) {
  if (std::isnan(x)) return x;
  if (x == 0.f || std::isinf(x)) return x;
  const double a = std::fabs(static_cast<double>(x));
  int e = 0;
  std::frexp(a, &e);  // a = m 2^e, m in [0.5, 1)
  // bf16 keeps 8 significant bits: the quantum is 2^(e - 8), but never below the smallest
  // subnormal bf16, 2^-133 (f32's exponent range, 7 stored fraction bits).
  const int quantum = std::max(e - 8, -133);
  const double r = std::ldexp(round_half_even(std::ldexp(a, -quantum)), quantum);
  const float out = static_cast<float>(r);  // exact, or infinity past the largest bf16
  return x < 0.f ? -out : out;
}

float int8_scale(float amax) {
  return amax > 0.f ? amax / 127.f : 1.f;
}

float max_abs(std::span<const float> x) {
  float m = 0.f;
  for (float v : x) m = std::max(m, std::fabs(v));
  return m;
}

void quantize_int8(std::span<int8_t> out, std::span<const float> in, float scale) {
  const size_t n = std::min(out.size(), in.size());
  const float* x = in.data();
  int8_t* q = out.data();
  for (size_t i = 0; i < n; ++i) {
    const float r = std::nearbyint(x[i] / scale);  // the default rounding mode: ties to even
    q[i] = static_cast<int8_t>(std::clamp(r, -127.f, 127.f));
  }
}

int8_t quantize_int8_naive(float x, float scale) {
  const double q = round_half_even(static_cast<double>(x / scale));
  return static_cast<int8_t>(std::clamp(q, -127.0, 127.0));
}

}  // namespace baffle
