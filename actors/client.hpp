// The client actor: a client's work as a CAF actor. Its node hands it one task at a time, for one
// of the node's clients (the task names it): it answers with the K loss differences, or a
// baseline's dense result, computed on its node's model replica. A node keeps a client actor for
// each task it has running and reuses the idle ones (spawning and ending an actor per task cost a
// quarter of the CPU of a tiny-model round in CAF 0.17; docs/performance.md). Idle clients are no
// actors at all, only their ids and the world's per-client records.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "actors/protocol.hpp"
#include "actors/world.hpp"
#include "models/perturbation_cache.hpp"

namespace baffle {

/// What a client actor holds: the id of the client whose task it runs, and references to the
/// process's shared world and its node's replica.
struct client_state {
  uint32_t id = 0;
  std::shared_ptr<const world> w;
  std::shared_ptr<const model_replica> replica;
  tbb::task_arena* arena = nullptr;
  workspace_pool* pool = nullptr;  ///< the process's reusable scratch (may be null)
  /// The node's perturbed weights, shared by its clients under shared seeds (may be null: off).
  std::shared_ptr<perturbation_cache> cache{};
};

/// Pure client step: minibatch of this round, K scalars, virtual finish time.
/// Why a task for `model_version` cannot run on this client's replica, or nullopt.
std::optional<std::string> task_problem(const client_state& st, uint64_t round,
                                        uint64_t model_version);

round_result compute_round(const client_state& st, const round_task& task);

/// Pure baseline step: FedSGD's minibatch gradient, or FedAvg's weights after local SGD steps,
/// computed with backprop on a private copy of the replica (freed when the step ends).
dense_result compute_backprop_round(const client_state& st, const backprop_task& task);

/// Answers each task it is given, for the client the task names, on `replica`.
client_actor::behavior_type client_behavior(client_actor::stateful_pointer<client_state> self,
                                            std::shared_ptr<const world> w,
                                            std::shared_ptr<const model_replica> replica,
                                            tbb::task_arena* arena, workspace_pool* pool,
                                            std::shared_ptr<perturbation_cache> cache);

}  // namespace baffle
