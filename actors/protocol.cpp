// Message type registration.
#include "actors/protocol.hpp"

#include "actors/join.hpp"

namespace baffle {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<round_task>("baffle.round_task");
  cfg.add_message_type<round_result>("baffle.round_result");
  cfg.add_message_type<backprop_task>("baffle.backprop_task");
  cfg.add_message_type<dense_result>("baffle.dense_result");
  cfg.add_message_type<model_update>("baffle.model_update");
  cfg.add_message_type<dense_update>("baffle.dense_update");
  cfg.add_message_type<node_round_task>("baffle.node_round_task");
  cfg.add_message_type<model_snapshot>("baffle.model_snapshot");
  cfg.add_message_type<node_backprop_task>("baffle.node_backprop_task");
  cfg.add_message_type<run_outcome>("baffle.run_outcome");
  cfg.add_message_type<node_layout>("baffle.node_layout");
  cfg.add_message_type<node_joined>("baffle.node_joined");
  add_join_message_types(cfg);
}

}  // namespace baffle
