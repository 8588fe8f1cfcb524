// The LeNet of the BAFFLE reference code: two 5x5 convolutions (optional GroupNorm, activation),
// max-pool between them, global average pool and a linear head, on one flat parameter buffer.
#pragma once

#include <string>

#include "models/layers.hpp"
#include "models/network.hpp"

namespace baffle {

/// Sizes of a lenet and where each tensor sits in the flat parameter buffer (offsets in floats;
/// -1 when the tensor is absent).
struct lenet_layout {
  int in_channels = 1;
  int image_size = 32;  ///< H = W of the input
  int c1 = 16;
  int c2 = 64;
  int classes = 10;
  bool group_norm = false;
  bool norm_affine = false;
  int groups = 1;
  activation act = activation::relu;

  int64_t conv1_w = 0;   ///< (c1, in_channels, 5, 5)
  int64_t conv1_b = 0;   ///< (c1)
  int64_t norm1_g = -1;  ///< (c1) gamma, then beta (c1) right after
  int64_t conv2_w = 0;   ///< (c2, c1, 5, 5)
  int64_t conv2_b = 0;   ///< (c2)
  int64_t norm2_g = -1;  ///< (c2) gamma, then beta (c2)
  int64_t fc_w = 0;      ///< (classes, c2)
  int64_t fc_b = 0;      ///< (classes)
  int64_t count = 0;
};

/// conv5x5 pad 2 (in -> c1) -> [GroupNorm] -> act -> maxpool 2 -> conv5x5 pad 2 (c1 -> c2)
/// -> [GroupNorm] -> act -> global average pool -> linear (c2 -> classes).
/// Inputs are (B, in_channels * image_size * image_size) NCHW rows. The instance is shared
/// read-only by threads; its conv2d_cache creates oneDNN primitives once per batch size (lookups
/// lock a mutex, execution runs on the caller's workspace and does not).
class lenet final : public network {
 public:
  /// c1 and c2 must be multiples of groups when norm is group. Throws std::invalid_argument on
  /// bad arguments (use make_lenet for an error value).
  lenet(int in_channels, int image_size, int c1 = 16, int c2 = 64, int classes = 10,
        activation act = activation::relu, norm_kind norm = norm_kind::none, int groups = 1,
        bool norm_affine = false, forward_precision precision = forward_precision::f32);

  int64_t param_count() const override { return layout_.count; }
  void init(std::span<float> params, uint64_t seed) const override;
  double forward_flops(int batch) const override;
  loss_stats loss_at(forward_precision p, std::span<const float> params, const batch_view& b,
                     workspace& ws) const override;
  loss_stats loss_and_grad(std::span<const float> params, const batch_view& b,
                           std::span<float> grad, workspace& ws) const override;
  std::string describe() const override;

  const lenet_layout& layout() const { return layout_; }

  /// Seconds spent per stage of the last timed forward, for the benchmark.
  struct stage_times {
    double conv1 = 0, norm_act_pool1 = 0, conv2 = 0, norm_act_pool2 = 0, head = 0;
  };
  /// loss() with per-stage wall-clock times written to *times (benchmark use only).
  loss_stats timed_loss(std::span<const float> params, const batch_view& b, workspace& ws,
                        stage_times* times) const;
  /// oneDNN's implementation names of the two convolutions at precision p (for the benchmark).
  std::string implementations(int batch, forward_precision p) const;

 private:
  /// Forward; all intermediate tensors stay in ws (see lenet.cpp for the buffer map). Returns
  /// the logits (B, classes).
  const float* forward(std::span<const float> params, const batch_view& b, workspace& ws, bool keep,
                       stage_times* times, forward_precision p) const;

  lenet_layout layout_;
  mutable conv2d_cache cache_;
};

/// Builds a lenet or says which argument is not allowed.
result<std::unique_ptr<network>> make_lenet(int in_channels, int image_size, int c1, int c2,
                                            int classes, activation act, norm_kind norm, int groups,
                                            bool norm_affine = false,
                                            forward_precision precision = forward_precision::f32);

/// out: (B, C, to, to) = in: (B, C, from, from) centred in zeros (28 -> 32 pads 2 on every side,
/// as the reference code does). to >= from, to - from even.
void pad_images(float* out, const float* in, int batch, int channels, int from_size, int to_size);

/// Mean cross-entropy of a lenet computed naively in double from the definitions (tests' oracle).
double lenet_loss_naive(const lenet_layout& l, const double* params, const float* x,
                        const int32_t* y, int batch);

/// The same oracle at precision p: every convolution and the linear head through
/// conv2d_forward_lowp_naive (inputs and weights converted plainly, then double arithmetic); the
/// element-wise layers in double, their outputs rounded to float where the fast path stores them.
double lenet_loss_naive(const lenet_layout& l, const float* params, const float* x,
                        const int32_t* y, int batch, forward_precision p);

}  // namespace baffle
