// Seeded image-like inputs and perturbed parameters for the convolutional network tests.
#pragma once

#include <cstdint>
#include <vector>

#include "models/network.hpp"
#include "models/philox.hpp"

namespace baffle::testing_inputs {

struct image_batch {
  std::vector<float> x;
  std::vector<int32_t> y;
  int size = 0;
  batch_view view() const { return batch_view{x, y, size}; }
};

/// Image-like inputs: a zero background (as MNIST has) with random strokes in [0, 1].
inline image_batch make_batch(int size, int channels, int image, int classes, uint64_t seed) {
  image_batch b;
  b.size = size;
  b.x.resize(static_cast<size_t>(size) * channels * image * image);
  b.y.resize(size);
  const stream_id s{seed, purpose::derive, 5};
  for (size_t i = 0; i < b.x.size(); ++i) {
    const double u = uniform01(s, i);
    b.x[i] = u < 0.6 ? 0.f : static_cast<float>((u - 0.6) / 0.4);
  }
  for (int i = 0; i < size; ++i)
    b.y[i] = static_cast<int32_t>(uniform_below(s, 1u << 30 | i, classes));
  return b;
}

/// Initialised parameters with every entry (zero-initialised biases, GroupNorm affine terms
/// included) perturbed away from its initial value, so every gradient entry is exercised.
inline std::vector<float> make_params(const network& net, uint64_t seed) {
  std::vector<float> p(net.param_count());
  net.init(p, seed);
  const stream_id s{seed, purpose::derive, 6};
  for (size_t i = 0; i < p.size(); ++i)
    p[i] += static_cast<float>(0.05 * (2.0 * uniform01(s, i) - 1.0));
  return p;
}

}  // namespace baffle::testing_inputs
