// A node: the unit that will live in each worker process. It owns one model replica (its own
// memory) that follows the server through update messages, and its share of the fleet: idle
// clients are plain records (their ids), and a client that gets a task runs it as a CAF actor of
// the node's, one per running task; the node keeps idle client actors for the next tasks (up to
// max_idle_client_actors). In one process, `--nodes N` runs N.
//
// Versions: every task names the model version it runs on, and the node computes it on exactly
// that version. An update is applied only when no task is computing on the replica (the clients
// read it while they compute); until then the update, and every message after it, waits in
// arrival order. So a node holds one replica, plus the waiting messages: at most the updates and
// tasks the server sent while the node's last tasks on the old version were computing.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "actors/model_state.hpp"
#include "actors/protocol.hpp"
#include "actors/world.hpp"
#include "models/perturbation_cache.hpp"

namespace baffle {

/// The node that holds client c when there are `nodes` of equal capacity: c mod nodes
/// (round-robin, so every node gets a near-equal share of any contiguous range of clients).
inline uint32_t node_of_client(uint32_t client, uint32_t nodes) {
  return client % nodes;
}

/// Which node holds which client, from a node_layout (protocol.hpp): node i owns capacity[i]
/// consecutive slots of every cycle of T slots (T = the capacities' sum), and client c is in slot
/// c mod T. Capacities (1, 1, ..., 1) give node_of_client; (2, 1) gives node 0 clients 0, 1, 3, 4,
/// ... and node 1 clients 2, 5, ... The rule is deterministic and needs no per-client table;
/// results never depend on it (a task computes the same anywhere).
class client_map {
 public:
  client_map() = default;
  explicit client_map(const node_layout& layout);
  /// `nodes` nodes of capacity 1 each.
  static client_map uniform(uint32_t nodes);
  /// The node holding client c; the map must hold a node of capacity above 0.
  uint32_t owner(uint32_t client) const {
    return slots_[client % static_cast<uint32_t>(slots_.size())];
  }
  bool empty() const { return slots_.empty(); }

 private:
  std::vector<uint32_t> slots_;  ///< node of each slot of a cycle
};

/// A message held back until the tasks computing on the replica are done, with its reply.
struct node_waiting {
  using update_variant = std::variant<model_update, dense_update, model_snapshot>;
  struct update {
    update_variant message;
    caf::typed_response_promise<uint64_t> reply;
  };
  struct baffle_task {
    node_round_task task;
    caf::typed_response_promise<round_result> reply;
  };
  struct backprop_task {
    node_backprop_task task;
    caf::typed_response_promise<dense_result> reply;
  };
  struct verify {
    uint64_t version = 0;
    caf::typed_response_promise<std::string> reply;
  };
  struct layout {
    node_layout message;
    caf::typed_response_promise<uint64_t> reply;
  };
  std::variant<update, baffle_task, backprop_task, verify, layout> what;
};

/// The most idle client actors a node keeps for its next tasks (about 1.1 KB each); beyond it, an
/// actor whose task is done is let go.
inline constexpr size_t max_idle_client_actors = 4096;

/// The reply owed to the server for a task a client actor is running.
using task_reply = std::variant<caf::typed_response_promise<round_result>,
                                caf::typed_response_promise<dense_result>>;

/// The BAFFLE_NODE_FAULT test hook (node.cpp): a signal the node's process sends itself once the
/// node has finished `after` tasks; signal 0 is none.
struct node_fault {
  int signal = 0;
  uint64_t after = 0;
};

struct node_state {
  uint32_t id = 0;
  std::shared_ptr<const world> w;
  model_state model;  ///< this node's replica: weights, version, optimizer, EMA
  client_map clients;  ///< who holds which client (the server's latest layout)
  tbb::task_arena* arena = nullptr;
  workspace_pool* pool = nullptr;
  /// Perturbed weights its clients share (run.perturbation_cache_mb; null when 0).
  std::shared_ptr<perturbation_cache> cache;
  uint32_t computing = 0;            ///< client actors computing on the replica now
  std::vector<client_actor> idle_clients;  ///< client actors without a task, for the next ones
  /// The client actors running a task, each with the reply it owes the server.
  std::unordered_map<caf::actor_addr, task_reply> busy_clients;
  std::deque<node_waiting> waiting;  ///< held back until `computing` is 0, in arrival order
  uint64_t tasks_done = 0;           ///< tasks its clients finished (answered or refused)
  node_fault fault;                  ///< the test hook, read once from the environment
};

/// A node of `nodes` with id `id`, its replica starting as the scenario's initial model. The arena
/// and pool must outlive the node.
node_actor::behavior_type node_behavior(node_actor::stateful_pointer<node_state> self, uint32_t id,
                                        uint32_t nodes, std::shared_ptr<const world> w,
                                        tbb::task_arena* arena, workspace_pool* pool);

}  // namespace baffle
