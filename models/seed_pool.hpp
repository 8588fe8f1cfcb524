// A finite seed pool (`baffle.seed_pool = M`): the perturbation seeds of every round are drawn
// from M seeds fixed at the start, so the model is always the initial weights plus one
// coefficient per pool direction, and a device that missed any number of updates can catch up
// by regenerating the M x K directions once (a FedKSeed-style bounded replay).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <tbb/task_arena.h>

#include "models/directions.hpp"

namespace baffle {

/// Seed m of the pool (m < M): derive_seed(seed, seed_pool, m).
uint64_t pool_seed(uint64_t seed, int m);

/// Which pool seed round r perturbs with: uniform in [0, M) from stream (seed, seed_pool, 1).
int pool_index_of_round(uint64_t seed, int pool_size, uint64_t round);

/// The model under a seed pool: W = W0 + sum_m P_m, P_m = sum_k float(c[m, k]) u(seed_m, k),
/// each P_m rebuilt by reconstruct_from_streams (deterministic for any thread count) and the sum
/// taken element by element in m order, so whoever holds W0 and c gets W bit for bit.
struct pool_model {
  std::vector<uint64_t> seeds;       ///< the M pool seeds
  int k = 0;                         ///< directions per seed
  std::vector<float> initial;        ///< W0, (n)
  std::vector<double> coefficients;  ///< c, (M, K): the total step along each pool direction
  std::vector<float> partials;       ///< P, (M, n), kept so a step rebuilds only its seeds' P_m
  /// The model version c describes: weights that came from elsewhere (a checkpoint or snapshot,
  /// which do not hold c) leave it behind the model's, and the next update is refused.
  uint64_t version = 0;

  bool active() const { return !seeds.empty(); }
  /// The pool index of a seed, or -1 if it is not in the pool.
  int index_of(uint64_t seed) const;
};

/// A pool of `pool_size` seeds of run seed `seed`, K directions each, at initial weights w0.
pool_model make_pool_model(uint64_t seed, int pool_size, int k, std::span<const float> w0);

/// Rebuilds P_m for each m in `seeds_to_rebuild`, then writes W = W0 + sum_m P_m into `out`.
void pool_rebuild(pool_model& p, std::span<const int> seeds_to_rebuild,
                  const estimator_options& options, std::span<float> out, tbb::task_arena& arena);

/// The bounded catch-up: a device holding only W0 and the pool's coefficients c (M x K) gets
/// the model, regenerating all M x K directions; bit for bit the server's weights.
std::vector<float> pool_catch_up(const pool_model& p, const estimator_options& options,
                                 tbb::task_arena& arena);

}  // namespace baffle
