// A node: the unit that will live in each worker process. It owns one model replica (its own
// memory) that follows the server through update messages, and the client actors of its share
// of the fleet, which read that replica. In one process, `--nodes N` runs N of them.
#pragma once

#include <memory>
#include <vector>

#include "actors/model_state.hpp"
#include "actors/protocol.hpp"
#include "actors/world.hpp"

namespace baffle {

/// The node that holds client c when there are `nodes` of them: c mod nodes (round-robin, so every
/// node gets a near-equal share of any contiguous range of clients).
inline uint32_t node_of_client(uint32_t client, uint32_t nodes) {
  return client % nodes;
}

struct node_state {
  uint32_t id = 0;
  std::shared_ptr<const world> w;
  model_state model;                  ///< this node's replica: weights, version, optimizer, EMA
  std::vector<client_actor> clients;  ///< index: client id / node count
  uint32_t nodes = 1;
  tbb::task_arena* arena = nullptr;
};

/// Spawns the node's client actors (linked to it) on its replica, which starts as the scenario's
/// initial model. The arena and pool must outlive the node.
node_actor::behavior_type node_behavior(node_actor::stateful_pointer<node_state> self, uint32_t id,
                                        uint32_t nodes, std::shared_ptr<const world> w,
                                        tbb::task_arena* arena, workspace_pool* pool);

}  // namespace baffle
