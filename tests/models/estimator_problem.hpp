// A small estimator problem for the models tests: an MLP 12-8-3 with its weights (biases 0.1),
// and a seeded minibatch of 24 examples of 3 classes.
#pragma once

#include <cstdint>
#include <vector>

#include "models/mlp.hpp"
#include "models/network.hpp"
#include "models/normal.hpp"

namespace baffle {

struct problem {
  mlp net{12, {8}, 3};
  std::vector<float> params;
  std::vector<float> x;
  std::vector<int32_t> y;
  int size = 24;
  problem() {
    params.resize(net.param_count());
    net.init(params, 5);
    for (const auto& l : net.layers())
      for (int o = 0; o < l.out; ++o) params[l.bias_offset + o] = 0.1f;
    const stream_id s{77, purpose::derive, 1};
    x.resize(static_cast<size_t>(size) * 12);
    y.resize(size);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(2 * uniform01(s, i) - 1);
    for (int i = 0; i < size; ++i) y[i] = static_cast<int32_t>(uniform_below(s, 5000 + i, 3));
  }
  batch_view batch() const { return batch_view{x, y, size}; }
  std::vector<float> true_gradient() const {
    std::vector<float> g(net.param_count());
    workspace ws;
    net.loss_and_grad(params, batch(), g, ws);
    return g;
  }
};

}  // namespace baffle
