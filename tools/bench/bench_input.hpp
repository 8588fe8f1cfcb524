// Seeded inputs shared by the convolutional network benchmarks: image-like batches (mostly zeros,
// as padded MNIST) or dense random ones, so the two kinds of input can be timed side by side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/philox.hpp"

namespace baffle {

/// One batch: x (batch, size, size) one-channel images, y (batch) labels i % 10.
struct bench_input {
  std::vector<float> x;
  std::vector<int32_t> y;
};

/// images = true: ~85% zeros, strokes in [0, 1] in the middle; false: dense U(-1, 1).
inline bench_input make_bench_input(int batch, int size, bool images) {
  bench_input in;
  in.x.resize(static_cast<size_t>(batch) * size * size);
  in.y.resize(batch);
  const stream_id s{7, purpose::derive, 1};
  for (size_t i = 0; i < in.x.size(); ++i) {
    const double u = uniform01(s, i);
    if (images) {
      const int r = static_cast<int>(i / size % size), c = static_cast<int>(i % size);
      const bool stroke = (r > 6 && r < 26 && c > 10 && c < 22) && u > 0.3;
      in.x[i] = stroke ? static_cast<float>(u) : 0.f;
    } else {
      in.x[i] = static_cast<float>(2.0 * u - 1.0);
    }
  }
  for (int i = 0; i < batch; ++i) in.y[i] = i % 10;
  return in;
}

}  // namespace baffle
