// The network interface every architecture implements: a flat parameter buffer in, a loss out.
// Parameters live in one contiguous float buffer so a perturbation is one vector operation.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "models/enum_names.hpp"
#include "models/layers.hpp"
#include "models/precision.hpp"
#include "models/result.hpp"

namespace baffle {

/// A minibatch: x (size, features) row-major floats, y (size) class labels.
struct batch_view {
  std::span<const float> x;
  std::span<const int32_t> y;
  int size = 0;
};

/// Sum of per-example cross-entropy losses (double, so K differences of nearby losses keep their
/// digits), correct predictions and the example count.
struct loss_stats {
  double loss_sum = 0.0;
  int64_t correct = 0;
  int64_t count = 0;
  double mean_loss() const { return count ? loss_sum / static_cast<double>(count) : 0.0; }
  double accuracy() const {
    return count ? static_cast<double>(correct) / static_cast<double>(count) : 0.0;
  }
  loss_stats& operator+=(const loss_stats& o) {
    loss_sum += o.loss_sum;
    correct += o.correct;
    count += o.count;
    return *this;
  }
};

/// Scratch memory for one forward/backward at a time; one per concurrent task, reused across calls.
struct workspace {
  std::vector<std::vector<float>> buffers;
  std::vector<float> params;  ///< perturbed weights W + sigma eps_k (the estimator's)
  /// Buffer i with at least n floats (grown on demand, never shrunk).
  float* get(size_t i, size_t n) {
    if (buffers.size() <= i) buffers.resize(i + 1);
    if (buffers[i].size() < n) buffers[i].resize(n);
    return buffers[i].data();
  }
};

/// Workspaces reused across tasks and calls: a task borrows one and gives it back, so megabytes of
/// scratch are not allocated and page-faulted afresh for every forward (that cost a LeNet client
/// step 2x). Contents never affect results, so which task gets which workspace does not matter.
class workspace_pool {
 public:
  /// A borrowed workspace, returned to the pool when it goes out of scope; a null pool lends a
  /// fresh workspace.
  class lease {
   public:
    explicit lease(workspace_pool* pool) : pool_(pool) {
      if (pool_) {
        std::lock_guard<std::mutex> lock(pool_->mutex_);
        if (!pool_->free_.empty()) {
          ws_ = std::move(pool_->free_.back());
          pool_->free_.pop_back();
        }
      }
      if (!ws_) ws_ = std::make_unique<workspace>();
    }
    ~lease() {
      if (pool_) {
        std::lock_guard<std::mutex> lock(pool_->mutex_);
        pool_->free_.push_back(std::move(ws_));
      }
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    workspace& operator*() { return *ws_; }
    workspace* operator->() { return ws_.get(); }

   private:
    workspace_pool* pool_;
    std::unique_ptr<workspace> ws_;
  };

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<workspace>> free_;
};

/// The architectures make_network builds.
enum class arch_kind { mlp, lenet, wrn };

template <>
struct enum_names<arch_kind> {
  static constexpr std::array<std::pair<arch_kind, std::string_view>, 3> table = {{
      {arch_kind::mlp, "mlp"},
      {arch_kind::lenet, "lenet"},
      {arch_kind::wrn, "wrn"},
  }};
};

/// Normalisation after each convolution of a lenet.
enum class norm_kind { none, group };

template <>
struct enum_names<norm_kind> {
  static constexpr std::array<std::pair<norm_kind, std::string_view>, 2> table = {{
      {norm_kind::none, "none"},
      {norm_kind::group, "group"},
  }};
};

/// What to build: architecture and its sizes.
struct network_spec {
  arch_kind arch = arch_kind::mlp;
  std::vector<int> hidden;  ///< mlp hidden widths
  int inputs = 784;         ///< features per example (= in_channels * image_size^2 for lenet)
  int classes = 10;
  int in_channels = 1;                   ///< lenet
  int image_size = 28;                   ///< lenet: square images
  std::vector<int> channels = {16, 64};  ///< lenet: conv1, conv2 output channels
  activation act = activation::relu;     ///< lenet, wrn
  norm_kind norm = norm_kind::none;      ///< lenet
  int groups = 0;                        ///< GroupNorm groups (0 = the architecture's default)
  int depth = 10;                        ///< wrn
  int width = 2;                         ///< wrn
  /// Precision of loss(), the forward the BAFFLE clients run (loss_at takes any).
  forward_precision precision = forward_precision::f32;
};

/// A network: pure functions of (parameters, batch); holds only its shape, so one instance is
/// shared read-only by every thread and client of a process.
class network {
 public:
  /// `precision` is the precision loss() runs at: the clients' forward passes.
  explicit network(forward_precision precision = forward_precision::f32) : precision_(precision) {}
  virtual ~network() = default;
  /// Number of float parameters in the flat buffer.
  virtual int64_t param_count() const = 0;
  /// Writes initial parameters, deterministic in seed.
  virtual void init(std::span<float> params, uint64_t seed) const = 0;
  /// Floating-point operations of one forward pass on `batch` examples (multiply-add = 2).
  virtual double forward_flops(int batch) const = 0;
  /// Forward pass with softmax cross-entropy at the network's precision (what the BAFFLE
  /// clients run; evaluation calls loss_at(f32)).
  loss_stats loss(std::span<const float> params, const batch_view& b, workspace& ws) const {
    return loss_at(precision_, params, b, ws);
  }
  /// Forward pass with softmax cross-entropy at precision p.
  virtual loss_stats loss_at(forward_precision p, std::span<const float> params,
                             const batch_view& b, workspace& ws) const = 0;
  /// The precision loss() runs at.
  forward_precision precision() const { return precision_; }
  /// Forward and backward: grad = d(mean loss)/d(params). For the backprop baselines and tests.
  virtual loss_stats loss_and_grad(std::span<const float> params, const batch_view& b,
                                   std::span<float> grad, workspace& ws) const = 0;
  /// One line for logs, e.g. "mlp 784-32-10 (25,450 parameters)".
  virtual std::string describe() const = 0;

 private:
  forward_precision precision_;
};

/// Builds the network a spec names; an error says which sizes or names are not allowed.
result<std::unique_ptr<network>> make_network(const network_spec& spec);

}  // namespace baffle
