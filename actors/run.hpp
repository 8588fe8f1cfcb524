// Runs a whole scenario: an actor system, one client actor per client, the server, and a
// blocking wait for the outcome. The only place that knows how the pieces are wired.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "actors/metrics.hpp"
#include "actors/protocol.hpp"
#include "actors/world.hpp"

namespace baffle {

struct run_options {
  run_options() = default;
  explicit run_options(int compute_threads) : threads(compute_threads) {}
  int threads = 1;  ///< compute threads (TBB arena) and CAF scheduler threads
  /// Polled after every round; true: checkpoint (through the sink) and stop (outcome.stopped).
  std::function<bool()> stop_requested;
  /// A checkpoint's server state (actors/checkpoint.hpp) to continue from; empty: a fresh run.
  std::string resume_state;
  /// Sees every update the server applies, in order: the stream replicas follow.
  std::function<void(const model_update&)> on_update;
  std::function<void(const dense_update&)> on_dense_update;
};

/// The actors of one process: clients, the server, and the model replica they share.
struct federation {
  server_actor server;
  std::vector<client_actor> clients;
  std::shared_ptr<model_replica> replica;
};

/// Initialises the model and spawns one client actor per client and the server in sys. The
/// arena and sink must outlive the actors. Send run_atom to the server to start.
federation spawn_federation(caf::actor_system& sys, std::shared_ptr<const world> w,
                            metrics_sink* sink, tbb::task_arena* arena,
                            workspace_pool* pool = nullptr, const run_options* opt = nullptr);

/// Runs every round of w's scenario; each round's record goes to sink (may be null).
run_outcome run_simulation(std::shared_ptr<const world> w, const run_options& opt,
                           metrics_sink* sink);

}  // namespace baffle
