// Node behaviour: applies the server's updates to its replica, in order, through the one update
// path, and hands tasks to its clients.
#include "actors/node.hpp"

#include <string>
#include <type_traits>

#include "actors/client.hpp"

namespace baffle {

namespace {

/// A refusal the server reports as it is: the message names the node and what was wrong.
caf::error refuse(uint32_t node, const std::string& why) {
  return caf::make_error(caf::sec::invalid_argument, "node " + std::to_string(node) + ": " + why);
}

std::string update_problem(const node_state& st, uint64_t version) {
  return "update to version " + std::to_string(version) + " refused: the replica holds version " +
         std::to_string(st.model.replica->version) + " (updates must come in order)";
}

}  // namespace

node_actor::behavior_type node_behavior(node_actor::stateful_pointer<node_state> self, uint32_t id,
                                        uint32_t nodes, std::shared_ptr<const world> w,
                                        tbb::task_arena* arena, workspace_pool* pool) {
  auto& st = self->state;
  st.id = id;
  st.nodes = nodes;
  st.w = w;
  st.arena = arena;
  st.model = initial_model(*w);
  const auto count = static_cast<uint32_t>(w->sc.clients.count);
  for (uint32_t c = id; c < count; c += nodes) {
    auto client = self->spawn(client_behavior, c, w,
                              std::shared_ptr<const model_replica>(st.model.replica), arena, pool);
    self->link_to(client);
    st.clients.push_back(std::move(client));
  }
  // Hands a task to the client it names (its reply goes straight back to the server), or refuses
  // it if that client does not live here.
  const auto hand_over = [self](const auto& t) {
    using result_type =
        std::conditional_t<std::is_same_v<std::decay_t<decltype(t)>, node_round_task>, round_result,
                           dense_result>;
    auto& s = self->state;
    if (node_of_client(t.client, s.nodes) != s.id || t.client / s.nodes >= s.clients.size()) {
      auto rp = self->make_response_promise<result_type>();
      rp.deliver(
          refuse(s.id, "client " + std::to_string(t.client) + " does not live on this node"));
      return caf::delegated<result_type>{};
    }
    return self->delegate(s.clients[t.client / s.nodes], t.task);
  };
  return {
      [self](const model_snapshot& snap) -> caf::result<uint64_t> {
        auto& s = self->state;
        if (!restore(s.model, snap))
          return refuse(s.id, "a model snapshot of " + std::to_string(snap.params.size()) +
                                  " weights does not fit this model");
        return s.model.replica->version;
      },
      [self](const model_update& u) -> caf::result<uint64_t> {
        auto& s = self->state;
        if (!apply_update(s.model, *s.w, u, *s.arena))
          return refuse(s.id, update_problem(s, u.version));
        return s.model.replica->version;
      },
      [self](const dense_update& u) -> caf::result<uint64_t> {
        auto& s = self->state;
        if (!apply_update(s.model, *s.w, u)) return refuse(s.id, update_problem(s, u.version));
        return s.model.replica->version;
      },
      [hand_over](const node_round_task& t) -> caf::delegated<round_result> {
        return hand_over(t);
      },
      [hand_over](const node_backprop_task& t) -> caf::delegated<dense_result> {
        return hand_over(t);
      },
      [self](verify_atom, uint64_t version) -> caf::result<std::string> {
        auto& s = self->state;
        if (s.model.replica->version != version)
          return refuse(s.id, "asked for the digest of version " + std::to_string(version) +
                                  ", the replica holds version " +
                                  std::to_string(s.model.replica->version));
        return params_digest(s.model.replica->view());
      },
  };
}

}  // namespace baffle
