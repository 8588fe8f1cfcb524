// The BAFFLE hot path on the quickstart's MLP: one forward, a client step (K + 1 forwards with
// perturbations), and the server's reconstruction, on real Fashion-MNIST images.
#include <benchmark/benchmark.h>

#include <tbb/task_arena.h>

#include "models/compute.hpp"
#include "models/dataset.hpp"
#include "models/estimator.hpp"
#include "models/mlp.hpp"
#include "models/normal.hpp"

namespace baffle {
namespace {

struct fixture {
  mlp net;
  std::vector<float> params;
  std::vector<float> x;
  std::vector<int32_t> y;
  int batch;
  explicit fixture(std::vector<int> hidden, int b = 32)
      : net(784, std::move(hidden), 10), batch(b) {
    enter_compute_thread();
    params.resize(net.param_count());
    net.init(params, 1);
    auto data = load_mnist_folder("/usr/share/datasets/fashion-mnist", 1000, 1);
    x.resize(static_cast<size_t>(batch) * 784);
    y.resize(batch);
    std::vector<uint32_t> idx(batch);
    for (int i = 0; i < batch; ++i) idx[i] = static_cast<uint32_t>(i);
    if (data.ok()) gather_batch(data->train, idx, measure_normalization(data->train), x, y);
  }
  batch_view view() const { return batch_view{x, y, batch}; }
};

void BM_MlpForward(benchmark::State& state) {
  fixture f({static_cast<int>(state.range(0))});
  workspace ws;
  for (auto _ : state) benchmark::DoNotOptimize(f.net.loss(f.params, f.view(), ws));
  const double flops = f.net.forward_flops(f.batch);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["forwards/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MlpForward)->Arg(32)->Arg(128)->Unit(benchmark::kMicrosecond);

void BM_ClientStep(benchmark::State& state) {
  fixture f({32});
  tbb::task_arena arena(static_cast<int>(state.range(1)));
  perturbation_plan plan{7, static_cast<int>(state.range(0)), 1e-4f, fd_scheme::forward};
  for (auto _ : state)
    benchmark::DoNotOptimize(baffle_client_step(f.net, f.params, f.view(), plan, arena));
  state.counters["forwards/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * (plan.k + 1)), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ClientStep)
    ->Args({100, 1})
    ->Args({100, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Reconstruct(benchmark::State& state) {
  fixture f({32});
  tbb::task_arena arena(static_cast<int>(state.range(1)));
  const int k = static_cast<int>(state.range(0));
  perturbation_plan plan{7, k, 1e-4f, fd_scheme::forward};
  std::vector<double> dbar(k, 0.01);
  std::vector<float> grad(f.params.size());
  for (auto _ : state) {
    baffle_reconstruct(dbar, plan, grad, arena);
    benchmark::DoNotOptimize(grad.data());
  }
  state.counters["normals/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * k * static_cast<double>(grad.size()),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Reconstruct)
    ->Args({100, 1})
    ->Args({100, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace baffle
