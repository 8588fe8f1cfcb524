// Single-thread LeNet forward (loss()) at batch 32: GFLOP/s from forward_flops and forwards/s, on
// image-like inputs (mostly zeros, as MNIST) and dense random ones; per-stage times; and the two
// oneDNN convolutions alone.
#include <benchmark/benchmark.h>

#include <vector>

#include "models/compute.hpp"
#include "models/layers.hpp"
#include "models/lenet.hpp"
#include "tools/bench/bench_input.hpp"

namespace {

using namespace baffle;

void bm_lenet_forward(benchmark::State& state) {
  enter_compute_thread();
  const bool images = state.range(0) != 0;
  const activation act = state.range(1) == 0 ? activation::relu : activation::gelu;
  const norm_kind norm = state.range(2) == 0 ? norm_kind::none : norm_kind::group;
  const int batch = 32;
  const lenet net(1, 32, 16, 64, 10, act, norm, 4);
  std::vector<float> params(net.param_count());
  net.init(params, 1);
  const auto in = make_bench_input(batch, 32, images);
  const batch_view b{in.x, in.y, batch};
  workspace ws;
  net.loss(params, b, ws);  // creates the primitives
  lenet::stage_times sum{}, t{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(net.timed_loss(params, b, ws, &t));
    sum.conv1 += t.conv1;
    sum.norm_act_pool1 += t.norm_act_pool1;
    sum.conv2 += t.conv2;
    sum.norm_act_pool2 += t.norm_act_pool2;
    sum.head += t.head;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(net.forward_flops(batch) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["forwards/s"] =
      benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["conv1_us"] = sum.conv1 / n * 1e6;
  state.counters["nap1_us"] = sum.norm_act_pool1 / n * 1e6;
  state.counters["conv2_us"] = sum.conv2 / n * 1e6;
  state.counters["nap2_us"] = sum.norm_act_pool2 / n * 1e6;
  state.counters["head_us"] = sum.head / n * 1e6;
  state.SetLabel(std::string(images ? "images " : "random ") + std::string(name_of(act)) + " " +
                 std::string(name_of(norm)));
}
// Args: images?, activation (0 relu, 1 gelu), norm (0 none, 1 group 4).
BENCHMARK(bm_lenet_forward)
    ->Args({1, 0, 0})
    ->Args({0, 0, 0})
    ->Args({1, 1, 1})
    ->Args({0, 1, 1})
    ->Unit(benchmark::kMicrosecond);

void bm_conv(benchmark::State& state) {
  enter_compute_thread();
  const conv2d_shape s = state.range(0) == 1 ? conv2d_shape{32, 1, 16, 32, 32, 5, 1, 2, true}
                                             : conv2d_shape{32, 16, 64, 16, 16, 5, 1, 2, true};
  conv2d_cache cache;
  const auto& plan = cache.forward(s);
  std::vector<float> x(s.in_count(), 0.5f), w(s.weight_count(), 0.01f), bias(s.out_channels),
      y(s.out_count());
  std::vector<float> scratch(conv2d_forward_scratch_bytes(plan) / sizeof(float) + 16);
  void* aligned =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  for (auto _ : state) {
    conv2d_forward(y.data(), x.data(), w.data(), bias.data(), plan, aligned);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2 * s.macs() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel("conv" + std::to_string(state.range(0)) + " " + plan_implementation(plan));
}
BENCHMARK(bm_conv)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

}  // namespace
