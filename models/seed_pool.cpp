// The finite seed pool (see seed_pool.hpp): the pool's seeds, each round's pick, and the model
// as W0 plus the pool directions' coefficients.
#include "models/seed_pool.hpp"

#include <algorithm>
#include <cassert>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "models/compute.hpp"
#include "models/estimator.hpp"

namespace baffle {

uint64_t pool_seed(uint64_t seed, int m) {
  return derive_seed(seed, purpose::seed_pool, static_cast<uint64_t>(m));
}

int pool_index_of_round(uint64_t seed, int pool_size, uint64_t round) {
  const stream_id s{derive_seed(seed, purpose::seed_pool, 0), purpose::seed_pool, 1};
  return static_cast<int>(uniform_below(s, round, static_cast<uint64_t>(pool_size)));
}

int pool_model::index_of(uint64_t seed) const {
  const auto it = std::find(seeds.begin(), seeds.end(), seed);
  return it == seeds.end() ? -1 : static_cast<int>(it - seeds.begin());
}

pool_model make_pool_model(uint64_t seed, int pool_size, int k, std::span<const float> w0) {
  pool_model p;
  p.k = k;
  for (int m = 0; m < pool_size; ++m) p.seeds.push_back(pool_seed(seed, m));
  p.initial.assign(w0.begin(), w0.end());
  p.coefficients.assign(static_cast<size_t>(pool_size) * static_cast<size_t>(k), 0.0);
  p.partials.assign(static_cast<size_t>(pool_size) * w0.size(), 0.0f);
  return p;
}

namespace {

/// P_m = sum_k float(c[m, k]) u(seed_m, k).
void rebuild_partial(pool_model& p, int m, const estimator_options& options,
                     tbb::task_arena& arena) {
  const size_t n = p.initial.size();
  std::vector<stream_id> streams(static_cast<size_t>(p.k));
  std::vector<float> coeffs(static_cast<size_t>(p.k));
  for (int j = 0; j < p.k; ++j) {
    streams[j] = perturbation_stream(p.seeds[m], j);
    coeffs[j] = static_cast<float>(p.coefficients[static_cast<size_t>(m) * p.k + j]);
  }
  reconstruct_from_streams(streams, coeffs, options,
                           std::span<float>(p.partials).subspan(static_cast<size_t>(m) * n, n),
                           arena);
}

/// out = W0 + sum_m P_m, element by element in m order.
void pool_sum(const pool_model& p, std::span<float> out, tbb::task_arena& arena) {
  const size_t n = p.initial.size();
  const size_t pools = p.seeds.size();
  assert(out.size() == n);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<size_t>(0, n, 4096), [&](const auto& r) {
      enter_compute_thread();
      for (size_t i = r.begin(); i < r.end(); ++i) {
        float w = p.initial[i];
        for (size_t m = 0; m < pools; ++m) w += p.partials[m * n + i];
        out[i] = w;
      }
    });
  });
}

}  // namespace

void pool_rebuild(pool_model& p, std::span<const int> seeds_to_rebuild,
                  const estimator_options& options, std::span<float> out, tbb::task_arena& arena) {
  for (int m : seeds_to_rebuild) rebuild_partial(p, m, options, arena);
  pool_sum(p, out, arena);
}

std::vector<float> pool_catch_up(const pool_model& p, const estimator_options& options,
                                 tbb::task_arena& arena) {
  pool_model device = p;  // W0 and c only: the partial sums are regenerated from the seeds
  std::fill(device.partials.begin(), device.partials.end(), 0.0f);
  std::vector<int> all(p.seeds.size());
  for (size_t m = 0; m < all.size(); ++m) all[m] = static_cast<int>(m);
  std::vector<float> out(p.initial.size());
  pool_rebuild(device, all, options, out, arena);
  return out;
}

}  // namespace baffle
