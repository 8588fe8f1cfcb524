// Single-thread WRN forward (loss()) and forward + backward (loss_and_grad()) at batch 32 on
// 1 x 32 x 32 inputs: GFLOP/s from forward_flops and passes/s, on image-like inputs (mostly
// zeros, as padded MNIST) and dense random ones.
#include <benchmark/benchmark.h>

#include <vector>

#include "models/compute.hpp"
#include "models/philox.hpp"
#include "models/wrn.hpp"

namespace {

using namespace baffle;

struct bench_input {
  std::vector<float> x;
  std::vector<int32_t> y;
};

/// images = true: zeros with strokes in [0, 1] in the middle; false: dense U(-1, 1).
bench_input make_input(int batch, int size, bool images) {
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

/// Args: images?, depth, width, backward?
void bm_wrn(benchmark::State& state) {
  enter_compute_thread();
  const bool images = state.range(0) != 0, backward = state.range(3) != 0;
  const int depth = static_cast<int>(state.range(1)), width = static_cast<int>(state.range(2));
  const int batch = 32;
  const wrn net(1, 32, depth, width, 10, activation::relu);
  std::vector<float> params(net.param_count()), grad(net.param_count());
  net.init(params, 1);
  const auto in = make_input(batch, 32, images);
  const batch_view b{in.x, in.y, batch};
  workspace ws;
  net.loss_and_grad(params, b, grad, ws);  // creates the primitives and sizes the workspace
  for (auto _ : state) {
    if (backward) {
      benchmark::DoNotOptimize(net.loss_and_grad(params, b, grad, ws));
    } else {
      benchmark::DoNotOptimize(net.loss(params, b, ws));
    }
  }
  state.counters["forward_GFLOP/s"] = benchmark::Counter(
      net.forward_flops(batch) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["passes/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel("wrn-" + std::to_string(depth) + "-" + std::to_string(width) +
                 (images ? " images" : " random") + (backward ? " fwd+bwd" : " fwd"));
}
BENCHMARK(bm_wrn)
    ->Args({1, 10, 2, 0})
    ->Args({0, 10, 2, 0})
    ->Args({1, 10, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace
