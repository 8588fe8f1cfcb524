// Multi-layer perceptron: linear layers with ReLU between them and a softmax cross-entropy head,
// on one flat parameter buffer. Matrix products go through oneDNN's sgemm.
#pragma once

#include <vector>

#include "models/network.hpp"

namespace baffle {

/// Where one linear layer's parameters sit in the flat buffer: W (out, in) row-major, then b (out).
struct linear_layout {
  int in = 0;
  int out = 0;
  int64_t weight_offset = 0;
  int64_t bias_offset = 0;
};

/// An MLP inputs -> hidden... -> classes. With no hidden layer it is softmax regression.
class mlp final : public network {
 public:
  mlp(int inputs, std::vector<int> hidden, int classes,
      forward_precision precision = forward_precision::f32);

  int64_t param_count() const override { return param_count_; }
  void init(std::span<float> params, uint64_t seed) const override;
  double forward_flops(int batch) const override;
  loss_stats loss_at(forward_precision p, std::span<const float> params, const batch_view& b,
                     workspace& ws) const override;
  loss_stats loss_and_grad(std::span<const float> params, const batch_view& b,
                           std::span<float> grad, workspace& ws) const override;
  std::string describe() const override;

  const std::vector<linear_layout>& layers() const { return layers_; }

 private:
  /// Runs the layers; activations of layer l land in ws buffer l + 1 (B, out_l), logits last.
  const float* forward(std::span<const float> params, const batch_view& b, workspace& ws,
                       forward_precision p) const;

  std::vector<linear_layout> layers_;
  int64_t param_count_ = 0;
  mutable conv2d_cache cache_;  ///< bf16 and int8 layers (1x1 convolutions)
};

/// y (B, out) = x (B, in) . w^T (in, out) + bias (out), w (out, in) row-major, at precision p:
/// oneDNN's sgemm in f32, a 1x1-convolution plan from `cache` (linear_shape) at bf16 and int8,
/// with its scratch in workspace buffer `scratch_buffer`.
void linear_forward(float* y, const float* x, const float* w, const float* bias, int batch, int in,
                    int out, forward_precision p, conv2d_cache& cache, workspace& ws,
                    size_t scratch_buffer);

/// Softmax cross-entropy of logits (B, classes) against labels: loss sum and correct count.
/// If dlogits is not null it receives (softmax - onehot) * scale, (B, classes).
loss_stats softmax_cross_entropy(const float* logits, const int32_t* labels, int batch, int classes,
                                 float* dlogits = nullptr, float scale = 1.f);

}  // namespace baffle
