// The precision of the clients' forward passes and the conversions into it: bf16 by
// round-to-nearest-even, int8 by symmetric scales (per output channel for weights, per tensor and
// per call for activations). Each conversion has a fast loop and a naive reference written from
// the definition; tests check they agree bit for bit.
#pragma once

#include <cstdint>
#include <span>

#include "models/enum_names.hpp"

namespace baffle {

/// f32: today's forwards. bf16: the inputs and weights of every convolution and linear layer are
/// rounded to bfloat16 (8 significant bits); int8: they are quantised to int8 with symmetric
/// scales. Accumulation, element-wise layers and the loss stay f32 in every case.
enum class forward_precision : uint8_t { f32 = 0, bf16 = 1, int8 = 2 };

template <>
struct enum_names<forward_precision> {
  static constexpr std::array<std::pair<forward_precision, std::string_view>, 3> table = {{
      {forward_precision::f32, "f32"},
      {forward_precision::bf16, "bf16"},
      {forward_precision::int8, "int8"},
  }};
};

// ---------------------------------------------------------------------------------------------
// bf16

/// The bfloat16 bits of x rounded to nearest, ties to even (NaN stays a quiet NaN; values past
/// the largest bf16 round to infinity, as IEEE rounding does).
uint16_t to_bf16(float x);
/// The float a bf16 bit pattern stands for (exact).
float from_bf16(uint16_t b);
/// out (n) = to_bf16(in (n)); vectorised.
void round_to_bf16(std::span<uint16_t> out, std::span<const float> in);
/// Naive reference of to_bf16 followed by from_bf16: x rounded to 8 significant bits by
/// frexp/ldexp arithmetic in double, ties to even, written from the definition.
float bf16_round_naive(float x);

// ---------------------------------------------------------------------------------------------
// int8: q = clamp(round_to_even(x * (127 / amax)), -127, 127), x ~ q * (amax / 127); amax is the
// largest |x| of the tensor (activations) or of one output channel's weights. A zero amax
// quantises to zeros with scale 1.

/// The dequantisation scale amax / 127 of a block whose largest magnitude is amax (1 when 0).
float int8_scale(float amax);
/// Largest |x| over x (0 for an empty span).
float max_abs(std::span<const float> x);
/// out (n) = quantised in (n) with the dequantisation scale `scale` (int8_scale); vectorised.
void quantize_int8(std::span<int8_t> out, std::span<const float> in, float scale);
/// Naive reference of quantize_int8 for one value.
int8_t quantize_int8_naive(float x, float scale);

}  // namespace baffle
