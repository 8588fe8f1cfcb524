// The model as the server owns it, and as every replica that follows it must be: the weights and
// their version, the optimizer's moments and the EMA. Every change to it is one update message -
// `model_update` (BAFFLE: seeds and coefficients) or `dense_update` (the backprop baselines) -
// applied by apply_update, the one code path for the server and anything that replays it, so a
// replica fed the server's updates in order holds the server's model bit for bit.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <tbb/task_arena.h>

#include "actors/protocol.hpp"
#include "actors/world.hpp"
#include "models/seed_pool.hpp"

namespace baffle {

struct model_state {
  std::shared_ptr<model_replica> replica;  ///< weights and version (clients read them)
  optimizer_state opt;                     ///< moments and step count of the server optimizer
  /// EMA of the weights when train.ema_decay > 0 (empty until its first update, or the initial
  /// weights under train.ema_warmup)
  std::vector<float> ema;
  std::vector<float> grad;                 ///< scratch for the rebuilt gradient
  pool_model pool;  ///< baffle.seed_pool: the model as W0 plus pool coefficients (else empty)
};

/// A model at version 0: the scenario's initial weights (stream (seed, init, 0)).
model_state initial_model(const world& w);

/// The whole state as a message, and back (the weights are copied into the existing replica, so
/// clients reading it keep their pointer). Returns false if the sizes do not fit the model.
model_snapshot snapshot_of(const model_state& m);
bool restore(model_state& m, const model_snapshot& s);
/// baffle.seed_pool: takes the pool's M x K coefficients of `weights` at `version`, which came
/// from elsewhere (a snapshot or checkpoint), rebuilding every pool direction's partial sum.
/// Refused, with the reason and the pool left as it was, unless they have the pool's size and
/// rebuild `weights` bit for bit. Call it before the weights replace the replica's, so a refused
/// snapshot changes nothing.
std::optional<std::string> restore_pool(model_state& m, const world& w,
                                        std::span<const double> coefficients,
                                        std::span<const float> weights, uint64_t version,
                                        tbb::task_arena& arena);

/// BAFFLE's gradient estimate of an update, before clipping: grad = sum over seeds s and k of
/// coefficient(s, k) u(s, k) (grad: the model's size; u.coefficients: seeds x K).
void rebuild_gradient(const world& w, const model_update& u, std::span<float> grad,
                      tbb::task_arena& arena);

/// BAFFLE's step: under a seed pool, the same step kept as the pool's coefficients (refused when
/// the weights came from a snapshot or checkpoint, which do not carry them). Otherwise rebuilds g =
/// sum over seeds s and k of coefficient(s, k) eps(s, k), clips it, steps the optimizer at update
/// u.step's learning rate, updates the EMA and sets the version to u.version. Refuses (returns
/// false, changes nothing) an update that is not the next version or whose coefficients do not
/// match seeds x K.
bool apply_update(model_state& m, const world& w, const model_update& u, tbb::task_arena& arena);

/// A baseline's step: FedSGD's mean gradient goes through clipping and the optimizer; FedAvg's
/// mean update is added (server learning rate 1). Same checks and version rule as above.
bool apply_update(model_state& m, const world& w, const dense_update& u);

}  // namespace baffle
