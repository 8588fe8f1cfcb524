// Optimizers on the flat parameter buffer: SGD with momentum and Adam, coupled weight decay.
// Element-wise, so the result does not depend on how the buffer is split across threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace baffle {

enum class optimizer_kind { sgd, adam };

struct optimizer_config {
  optimizer_kind kind = optimizer_kind::adam;
  double lr = 1e-2;
  double momentum = 0.0;      ///< sgd
  double beta1 = 0.9;         ///< adam
  double beta2 = 0.99;        ///< adam
  double eps = 1e-8;          ///< adam
  double weight_decay = 5e-4; ///< coupled: g += weight_decay * w before the update
};

/// Moments and step count; sized on the first step.
struct optimizer_state {
  std::vector<float> m;
  std::vector<float> v;
  int64_t step = 0;
};

/// One update of params with gradient grad (grad is left unchanged).
void optimizer_step(const optimizer_config& cfg, optimizer_state& st, std::span<float> params,
                    std::span<const float> grad);

}  // namespace baffle
