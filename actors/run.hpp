// Runs a whole scenario: an actor system, the nodes (each spawning a client's actor for each of
// its tasks), the server, and a blocking wait for the outcome. The only place that knows how the
// pieces are wired.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/protocol.hpp"
#include "actors/world.hpp"

namespace baffle {

struct run_options {
  run_options() = default;
  explicit run_options(int compute_threads) : threads(compute_threads) {}
  int threads = 1;  ///< compute threads (TBB arena) and CAF scheduler threads
  int nodes = 0;    ///< in-process nodes (0: the scenario's run.nodes); results do not depend on it
  /// Nodes in other processes (baffle serve), already built for this run: they take the ids
  /// after the in-process ones, which are then exactly `nodes` (0 allowed: --no-local).
  std::vector<node_actor> remote_nodes;
  /// Host and threads of each remote node (clients are dealt in proportion to threads); empty:
  /// capacity 1 each.
  std::vector<node_record> remote_info;
  /// Threads of each in-process node for the clients' layout (0: 1, the same for every node).
  uint32_t local_capacity = 0;
  /// Called with the server once it is spawned, before it runs (e.g. to let workers join later).
  std::function<void(const server_actor&)> on_server;
  /// The registry whose node_joined messages the server takes (baffle serve).
  caf::actor_addr registry;
  /// Compare the nodes' replica digests with the server's every N versions (0: the scenario's
  /// run.verify_every, whose 0 means at the end only).
  int verify_every = 0;
  /// Polled after every round; true: checkpoint (through the sink) and stop (outcome.stopped).
  std::function<bool()> stop_requested;
  /// A checkpoint's server state (actors/checkpoint.hpp) to continue from; empty: a fresh run.
  std::string resume_state;
  /// Sees every update the server applies, in order: the stream replicas follow.
  std::function<void(const model_update&)> on_update;
  std::function<void(const dense_update&)> on_dense_update;
};

/// The actors of one process: the server and the nodes (each with its replica and its clients).
struct federation {
  server_actor server;
  std::vector<node_actor> nodes;
  std::shared_ptr<model_replica> replica;  ///< the server's own model (weights and version)
};

/// Spawns `opt->nodes` nodes (each with its replica and its share of the client actors) and the
/// server in sys. The arena and sink must outlive the actors. Send run_atom to the server to
/// start; send an exit to the server and the nodes (their clients are linked) to stop.
federation spawn_federation(caf::actor_system& sys, std::shared_ptr<const world> w,
                            metrics_sink* sink, tbb::task_arena* arena,
                            workspace_pool* pool = nullptr, const run_options* opt = nullptr);

/// Runs every round of w's scenario; each round's record goes to sink (may be null).
run_outcome run_simulation(std::shared_ptr<const world> w, const run_options& opt,
                           metrics_sink* sink);

}  // namespace baffle
