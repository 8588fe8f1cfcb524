// Convolutional building blocks on NCHW float tensors: conv2d (oneDNN primitives, created once per
// shape and precision in a caller-owned cache; bf16 and int8 forwards too), GroupNorm, activations
// and pooling, each with a naive reference (templated so tests can run it in double) and a
// backward pass.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "models/enum_names.hpp"
#include "models/precision.hpp"

namespace baffle {

// ---------------------------------------------------------------------------------------------
// conv2d

/// One convolution's sizes. Weights are (out_channels, in_channels, kernel, kernel), bias
/// (out_channels) when has_bias; x is (batch, in_channels, height, width).
struct conv2d_shape {
  int batch = 1;
  int in_channels = 1;
  int out_channels = 1;
  int height = 1;
  int width = 1;
  int kernel = 1;
  int stride = 1;
  int padding = 0;
  bool has_bias = true;

  int out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  int out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  int64_t weight_count() const {
    return static_cast<int64_t>(out_channels) * in_channels * kernel * kernel;
  }
  int64_t in_count() const { return static_cast<int64_t>(batch) * in_channels * height * width; }
  int64_t out_count() const {
    return static_cast<int64_t>(batch) * out_channels * out_height() * out_width();
  }
  /// Multiply-adds of one forward pass.
  double macs() const { return static_cast<double>(out_count()) * in_channels * kernel * kernel; }
  auto operator<=>(const conv2d_shape&) const = default;
};

struct conv2d_forward_plan;
struct conv2d_backward_plan;

/// oneDNN primitives per conv2d shape, created on first use and kept. One cache may be shared by
/// threads: lookups lock, execution does not (primitives use a caller-provided scratchpad, so a
/// primitive runs concurrently on different scratch buffers).
class conv2d_cache {
 public:
  conv2d_cache();
  ~conv2d_cache();
  conv2d_cache(const conv2d_cache&) = delete;
  conv2d_cache& operator=(const conv2d_cache&) = delete;

  /// The forward plan of shape s at precision p (inference; oneDNN picks the fastest blocked
  /// layouts and the plan reorders NCHW in and out). bf16 and int8 plans take f32 inputs, convert
  /// them (see conv2d_forward) and write f32 outputs.
  const conv2d_forward_plan& forward(const conv2d_shape& s,
                                     forward_precision p = forward_precision::f32);
  /// The backward plan of shape s (data, weights and bias gradients on plain layouts).
  const conv2d_backward_plan& backward(const conv2d_shape& s);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::mutex mutex_;
  std::map<std::pair<conv2d_shape, forward_precision>, std::unique_ptr<conv2d_forward_plan>>
      forward_;
  std::map<conv2d_shape, std::unique_ptr<conv2d_backward_plan>> backward_;
};

/// Bytes of scratch conv2d_forward needs with this plan (64-byte aligned pieces inside).
size_t conv2d_forward_scratch_bytes(const conv2d_forward_plan& plan);
/// Bytes of scratch conv2d_backward needs with this plan.
size_t conv2d_backward_scratch_bytes(const conv2d_backward_plan& plan);
/// The shape a plan was made for.
const conv2d_shape& plan_shape(const conv2d_forward_plan& plan);
/// oneDNN's implementation name of the forward convolution, e.g. "brgconv:avx512_core".
std::string plan_implementation(const conv2d_forward_plan& plan);

/// y: (B, OC, OH, OW) = conv(x: (B, IC, H, W), w: (OC, IC, K, K)) + bias (OC) (null if no bias).
/// scratch: conv2d_forward_scratch_bytes(plan) bytes, 64-byte aligned; one per concurrent call.
/// At the plan's precision: bf16 rounds x and w with round_to_bf16 and accumulates in f32; int8
/// quantises x with one scale for the whole tensor (int8_scale(max_abs(x)), calibrated on this
/// call's input) and w with one scale per output channel, accumulates exactly in int32 and writes
/// y = acc x scale_x x scale_w[o] + bias[o] in f32. The bias stays f32 in both.
void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const conv2d_forward_plan& plan, void* scratch);

/// The precision a plan was made for.
forward_precision plan_precision(const conv2d_forward_plan& plan);

/// A linear layer as a 1x1 convolution on 1x1 images: y (B, out) = x (B, in) . w^T + bias with
/// w (out, in) row-major, the memory layout of a (B, in, 1, 1) image batch and (out, in, 1, 1)
/// weights. The bf16 and int8 heads and MLP layers run through it.
inline conv2d_shape linear_shape(int batch, int in, int out, bool has_bias = true) {
  return conv2d_shape{batch, in, out, 1, 1, 1, 1, 0, has_bias};
}

/// Naive reference of conv2d_forward at precision p, in double on the converted values: x and w
/// rounded by bf16_round_naive, or quantised by quantize_int8_naive with the scales defined above
/// and multiplied back (dequantised) before the double convolution.
void conv2d_forward_lowp_naive(double* y, const float* x, const float* w, const float* bias,
                               const conv2d_shape& s, forward_precision p);

/// dx: (B, IC, H, W), dw: (OC, IC, K, K), dbias: (OC) from dy: (B, OC, OH, OW), x and w.
/// Any of dx, dbias may be null to skip it. Gradients are written, not accumulated.
void conv2d_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                     const float* w, const conv2d_backward_plan& plan, void* scratch);

/// Naive reference of conv2d_forward; T = float or double.
template <class T>
void conv2d_forward_naive(T* y, const T* x, const T* w, const T* bias, const conv2d_shape& s);

/// Naive reference of conv2d_backward; T = float or double.
template <class T>
void conv2d_backward_naive(T* dx, T* dw, T* dbias, const T* dy, const T* x, const T* w,
                           const conv2d_shape& s);

// ---------------------------------------------------------------------------------------------
// GroupNorm: per (example, group) statistics over channels_per_group * H * W values; eps 1e-5,
// biased variance (as torch.nn.GroupNorm).

/// Sizes of one GroupNorm; channels % groups == 0. hw = H * W.
struct group_norm_shape {
  int batch = 1;
  int channels = 1;
  int groups = 1;
  int hw = 1;
  double eps = 1e-5;
};

/// y: (B, C, HW) = (x - mean) * rstd [* gamma (C) + beta (C)] (gamma, beta null: affine off).
/// mean, rstd: (B, G), kept for the backward pass.
void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, const group_norm_shape& s);

/// dx: (B, C, HW); dgamma, dbeta: (C) (written; null when affine off) from dy, x, mean, rstd.
void group_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                         const float* mean, const float* rstd, const float* gamma,
                         const group_norm_shape& s);

/// Naive reference of group_norm_forward (two-pass statistics); T = float or double.
template <class T>
void group_norm_forward_naive(T* y, const T* x, const T* gamma, const T* beta,
                              const group_norm_shape& s);

// ---------------------------------------------------------------------------------------------
// Activations (elementwise, any layout)

/// relu; hardswish x*relu6(x+3)/6; selu (lambda 1.0507..., alpha 1.6732...); gelu in the erf form
/// 0.5 x (1 + erf(x / sqrt 2)) (torch.nn.GELU's default).
enum class activation { relu, hardswish, selu, gelu };

template <>
struct enum_names<activation> {
  static constexpr std::array<std::pair<activation, std::string_view>, 4> table = {{
      {activation::relu, "relu"},
      {activation::hardswish, "hardswish"},
      {activation::selu, "selu"},
      {activation::gelu, "gelu"},
  }};
};

/// y (n) = act(x (n)); y may equal x. Vectorised; exp/erf use polynomial approximations accurate
/// to a few float ulps (see layers.cpp).
void activation_forward(float* y, const float* x, int64_t n, activation a);
/// dx (n) = dy * act'(x); dx may equal dy.
void activation_backward(float* dx, const float* dy, const float* x, int64_t n, activation a);
/// Naive reference with std::exp / std::erf; T = float or double.
template <class T>
T activation_naive(T x, activation a);
/// Naive derivative act'(x); T = float or double.
template <class T>
T activation_derivative_naive(T x, activation a);

// ---------------------------------------------------------------------------------------------
// Pooling

/// y: (B*C, H/2, W/2) = max over 2x2 windows of x: (B*C, H, W), stride 2 (floor: an odd last
/// row/column is dropped). planes = B*C.
void max_pool2_forward(float* y, const float* x, int planes, int height, int width);
/// dx: (B*C, H, W) gets dy at the first maximum of each window (row-major), zero elsewhere.
void max_pool2_backward(float* dx, const float* dy, const float* x, const float* y, int planes,
                        int height, int width);
/// Naive reference of max_pool2_forward; T = float or double.
template <class T>
void max_pool2_forward_naive(T* y, const T* x, int planes, int height, int width);

/// Output size of a kernel x kernel window sliding with stride over n positions, no padding,
/// floor (PyTorch's default ceil_mode=False): (n - kernel) / stride + 1, or 0 when n < kernel.
/// Positions past the last full window are dropped (they get zero gradient).
inline int avg_pool_out_size(int n, int kernel, int stride) {
  return n < kernel ? 0 : (n - kernel) / stride + 1;
}

/// y: (B*C, OH, OW) = mean over kernel x kernel windows of x: (B*C, H, W), window (i, j) at rows
/// i*stride.., columns j*stride..; OH = avg_pool_out_size(H, kernel, stride), OW likewise (floor:
/// an incomplete last window is dropped, as in torch.nn.AvgPool2d without padding). kernel,
/// stride >= 1; stride == kernel is the usual non-overlapping pool, 2/2 has a dedicated path.
void avg_pool_forward(float* y, const float* x, int planes, int height, int width, int kernel,
                      int stride);
/// dx: (B*C, H, W) = sum over the windows covering each input of dy / kernel^2 (zero for inputs
/// no window covers). Written, not accumulated.
void avg_pool_backward(float* dx, const float* dy, int planes, int height, int width, int kernel,
                       int stride);
/// Naive reference of avg_pool_forward; T = float or double.
template <class T>
void avg_pool_forward_naive(T* y, const T* x, int planes, int height, int width, int kernel,
                            int stride);

/// y: (B*C) = mean over hw of x: (B*C, hw).
void global_avg_pool_forward(float* y, const float* x, int planes, int hw);
/// dx: (B*C, hw) = dy / hw.
void global_avg_pool_backward(float* dx, const float* dy, int planes, int hw);
/// Naive reference of global_avg_pool_forward; T = float or double.
template <class T>
void global_avg_pool_forward_naive(T* y, const T* x, int planes, int hw);

}  // namespace baffle
