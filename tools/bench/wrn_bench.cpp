// Single-thread WRN forward (loss()) and forward + backward (loss_and_grad()) at batch 32 on
// 1 x 32 x 32 inputs: GFLOP/s from forward_flops and passes/s, on image-like inputs (mostly
// zeros, as padded MNIST) and dense random ones.
#include <benchmark/benchmark.h>

#include <vector>

#include "models/compute.hpp"
#include "models/wrn.hpp"
#include "tools/bench/bench_input.hpp"

namespace {

using namespace baffle;

/// Args: images?, depth, width, backward?
void bm_wrn(benchmark::State& state) {
  enter_compute_thread();
  const bool images = state.range(0) != 0, backward = state.range(3) != 0;
  const int depth = static_cast<int>(state.range(1)), width = static_cast<int>(state.range(2));
  const int batch = 32;
  const wrn net(1, 32, depth, width, 10, activation::relu);
  std::vector<float> params(net.param_count()), grad(net.param_count());
  net.init(params, 1);
  const auto in = make_bench_input(batch, 32, images);
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
