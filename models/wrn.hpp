// The pre-activation wide ResNet with GroupNorm of the BAFFLE reference code (model/wideresnet.py),
// WRN-depth-width, on one flat parameter buffer: oneDNN convolutions, GroupNorm without affine
// terms, residual adds, global average pool and a linear head, with backprop for baselines/tests.
#pragma once

#include <string>
#include <vector>

#include "models/layers.hpp"
#include "models/network.hpp"

namespace baffle {

/// One pre-activation basic block: GroupNorm -> act -> conv3x3 (stride) -> GroupNorm -> act ->
/// conv3x3, plus the input (identity) or a 1x1 conv (stride) of the first activation's output
/// when the shape changes. Offsets are in floats in the flat buffer; -1 when absent.
struct wrn_block_layout {
  int in_channels = 16;
  int out_channels = 16;
  int stride = 1;
  int in_size = 32;         ///< H = W of the block input
  int out_size = 32;        ///< (in_size - 1) / stride + 1
  int in_groups = 2;        ///< GroupNorm groups on the input (in_channels)
  int out_groups = 2;       ///< GroupNorm groups after conv1 (out_channels)
  int64_t conv1_w = 0;      ///< (out, in, 3, 3)
  int64_t conv2_w = 0;      ///< (out, out, 3, 3)
  int64_t shortcut_w = -1;  ///< (out, in, 1, 1), or -1 for an identity shortcut
};

/// Sizes of a wrn and where each tensor sits in the flat parameter buffer.
struct wrn_layout {
  int in_channels = 1;
  int image_size = 32;  ///< H = W of the input
  int depth = 10;       ///< 6n + 4
  int width = 2;        ///< widening factor w: stage widths 16w, 32w, 64w
  int classes = 10;
  int groups = 0;  ///< 0: the reference's groups (see wrn's constructor); else every GroupNorm's
  activation act = activation::relu;

  int stem_channels = 16;
  int64_t stem_w = 0;                    ///< (16, in_channels, 3, 3)
  int64_t stem_b = 0;                    ///< (16)
  std::vector<wrn_block_layout> blocks;  ///< 3n blocks, in order
  int final_channels = 128;              ///< 64w
  int final_size = 8;                    ///< H = W after the last group
  int final_groups = 8;                  ///< GroupNorm groups before the pool
  int64_t fc_w = 0;                      ///< (classes, final_channels)
  int64_t fc_b = 0;                      ///< (classes)
  int64_t count = 0;
};

/// conv3x3 (in -> 16, bias) -> 3 groups of n = (depth - 4) / 6 pre-activation blocks (widths 16w,
/// 32w, 64w; the first block of groups 2 and 3 has stride 2) -> GroupNorm -> act -> global
/// average pool -> linear (64w -> classes). Every convolution is 3x3 pad 1 or 1x1 pad 0; GroupNorm
/// has no affine terms (affine=False in the reference). Inputs are (B, in_channels * S * S) NCHW
/// rows. Shared read-only by threads, like lenet: its conv2d_cache creates oneDNN primitives once
/// per shape (lookups lock a mutex; execution runs on the caller's workspace).
class wrn final : public network {
 public:
  /// depth = 6n + 4 with n >= 1; width >= 1.
  /// groups = 0 takes the reference's GroupNorm groups: max(2, C / 16) inside blocks and C / 16
  /// before the pool; groups > 0 uses that many in every GroupNorm and must divide 16 (hence every
  /// width). Throws std::invalid_argument naming the scenario key (model.depth, model.width, ...)
  /// on bad arguments (use make_wrn for an error value).
  wrn(int in_channels, int image_size, int depth = 10, int width = 2, int classes = 10,
      activation act = activation::relu, int groups = 0,
      forward_precision precision = forward_precision::f32);

  int64_t param_count() const override { return layout_.count; }
  /// As the reference: conv weights kaiming_uniform_ with its defaults (a = 0, fan_in, so
  /// U(-sqrt(6 / fan_in), +sqrt(6 / fan_in))), stem bias 0, linear weight xavier-uniform, bias 0.
  void init(std::span<float> params, uint64_t seed) const override;
  double forward_flops(int batch) const override;
  loss_stats loss_at(forward_precision p, std::span<const float> params, const batch_view& b,
                     workspace& ws) const override;
  loss_stats loss_and_grad(std::span<const float> params, const batch_view& b,
                           std::span<float> grad, workspace& ws) const override;
  std::string describe() const override;

  const wrn_layout& layout() const { return layout_; }

 private:
  /// Forward; intermediate tensors stay in ws (see wrn.cpp for the buffer map). keep = true keeps
  /// everything the backward pass needs. Returns the logits (B, classes).
  const float* forward(std::span<const float> params, const batch_view& b, workspace& ws, bool keep,
                       forward_precision p) const;

  wrn_layout layout_;
  mutable conv2d_cache cache_;
};

/// Builds a wrn or says which argument (model.depth, model.width, ...) is not allowed.
result<std::unique_ptr<network>> make_wrn(int in_channels, int image_size, int depth, int width,
                                          int classes, activation act, int groups = 0,
                                          forward_precision precision = forward_precision::f32);

}  // namespace baffle
