// Single-core throughput of the Gaussian streams (items = normals generated): the fast path, the
// Random123 reference, the scalar fallback, and the combining kernels at the sizes of a round
// (100 client streams over 25,000 parameters).
#include <benchmark/benchmark.h>

#include <vector>

#include "models/normal.hpp"

namespace {

constexpr baffle::stream_id bench_stream{2024, baffle::purpose::perturbation, 1};

void bm_fill_normal(benchmark::State& state) {
  std::vector<float> out(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    baffle::fill_normal(bench_stream, 0, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(bm_fill_normal)->Arg(4096)->Arg(25'000)->Arg(1 << 20);

void bm_fill_normal_unaligned(benchmark::State& state) {
  std::vector<float> out(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    baffle::fill_normal(bench_stream, 3, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(bm_fill_normal_unaligned)->Arg(25'000);

void bm_fill_normal_reference(benchmark::State& state) {
  std::vector<float> out(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    baffle::fill_normal_reference(bench_stream, 0, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(bm_fill_normal_reference)->Arg(25'000);

void bm_fill_normal_scalar(benchmark::State& state) {
  std::vector<float> out(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    baffle::detail::fill_normal_scalar(bench_stream, 0, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(bm_fill_normal_scalar)->Arg(25'000);

void bm_add_scaled_normal(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<float> w(n, 0.5f), out(n);
  for (auto _ : state) {
    baffle::add_scaled_normal(bench_stream, 0, 1e-3f, w, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(bm_add_scaled_normal)->Arg(25'000);

void bm_accumulate_normals(benchmark::State& state) {
  const size_t clients = static_cast<size_t>(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  std::vector<baffle::stream_id> streams;
  std::vector<float> coeffs;
  for (size_t k = 0; k < clients; ++k) {
    streams.push_back({2024, baffle::purpose::perturbation, static_cast<uint32_t>(k)});
    coeffs.push_back(1.0f / static_cast<float>(k + 1));
  }
  std::vector<float> acc(n, 0.0f);
  for (auto _ : state) {
    baffle::accumulate_normals(streams, coeffs, 0, acc);
    benchmark::DoNotOptimize(acc.data());
    benchmark::ClobberMemory();
  }
  // Items are normals generated (clients x parameters).
  state.SetItemsProcessed(state.iterations() * state.range(0) * state.range(1));
}
BENCHMARK(bm_accumulate_normals)->Args({100, 25'000})->Unit(benchmark::kMillisecond);

}  // namespace
