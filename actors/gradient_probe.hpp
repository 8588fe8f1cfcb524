// Measuring BAFFLE's gradient estimate as a run goes (`run.measure_gradient_every`): the true
// minibatch gradient of an update's results - backprop on exactly the minibatches the clients
// used, at the model versions they computed on - and the estimate's cosine and norm ratio with it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include <tbb/task_arena.h>

#include "actors/metrics.hpp"
#include "actors/world.hpp"

namespace baffle {

/// One result of a measured update: whose minibatch, on which weights, weighted how.
struct probe_term {
  uint32_t client = 0;
  uint64_t task_round = 0;         ///< the task's round: the client's minibatch position
  std::span<const float> weights;  ///< the model version the client computed on
  uint32_t batch_size = 0;         ///< the task's batch size
  double weight = 0.0;             ///< n_i s_i / sum_j n_j, as the aggregation weights it
};

/// G = sum_i weight_i grad L(W_i; B_i) in double (L the mean loss over B_i, B_i the minibatch
/// client i drew for its task round, in f32 whatever model.precision says). The backward passes
/// run in parallel in `arena`, at most its concurrency at a time, and are summed in term order,
/// so the bits do not depend on the thread count.
std::vector<double> true_gradient(const world& w, std::span<const probe_term> terms,
                                  tbb::task_arena& arena, workspace_pool* pool);

/// cos(g, G), |g| / |G| and |G|, in double (cosine and ratio 0 when G is zero).
gradient_measure compare_gradients(std::span<const float> estimate, std::span<const double> truth);

/// What measuring keeps between updates (server_state::probe); never part of the results.
struct gradient_probe {
  /// Async: the weights of older model versions that dispatches still in flight compute on, by
  /// version (at most one per dispatch in flight).
  std::map<uint64_t, std::vector<float>> versions;
  /// The last step's measure, until complete_update puts it into the update's record.
  std::optional<gradient_measure> measured;
};

}  // namespace baffle
