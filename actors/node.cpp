// Node behaviour: applies the server's updates to its replica, in order, through the one update
// path, once no client is computing on it; hands each task it is given to a client actor of its
// own (an idle one, or a new one) and passes the client's answer back to the server.
#include "actors/node.hpp"

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

#include "actors/client.hpp"
#include "actors/wire.hpp"

namespace baffle {

client_map::client_map(const node_layout& layout) {
  for (uint32_t i = 0; i < layout.capacity.size(); ++i)
    slots_.insert(slots_.end(), layout.capacity[i], i);
}

client_map client_map::uniform(uint32_t nodes) {
  return client_map(node_layout{std::vector<uint32_t>(std::max(nodes, 1u), 1u)});
}

namespace {

using self_ptr = node_actor::stateful_pointer<node_state>;

/// A refusal the server reports as it is: the message names the node and what was wrong.
caf::error refuse(uint32_t node, const std::string& why) {
  return caf::make_error(caf::sec::invalid_argument, "node " + std::to_string(node) + ": " + why);
}

std::string update_problem(const node_state& st, uint64_t version) {
  return "update to version " + std::to_string(version) + " refused: the replica holds version " +
         std::to_string(st.model.replica->version) + " (updates must come in order)";
}

void drain(self_ptr self);

/// The BAFFLE_NODE_FAULT test hook ("kill@N" or "stop@N"): the node's process sends itself
/// SIGKILL or SIGSTOP once the node has finished N tasks, so tests can lose or hang a worker at a
/// known point of a run. Read once per node; 0 when unset or malformed.
node_fault fault_from_environment() {
  const char* text = std::getenv("BAFFLE_NODE_FAULT");
  if (text == nullptr) return {};
  const std::string spec = text;
  const size_t at = spec.find('@');
  if (at == std::string::npos) return {};
  const std::string what = spec.substr(0, at);
  const int signal = what == "kill" ? SIGKILL : what == "stop" ? SIGSTOP : 0;
  uint64_t after = 0;
  const auto [end, ec] = std::from_chars(spec.data() + at + 1, spec.data() + spec.size(), after);
  if (signal == 0 || ec != std::errc() || end != spec.data() + spec.size()) return {};
  return {signal, after};
}

/// Applies an update or snapshot to the replica (no client is computing on it) and answers.
void apply_now(self_ptr self, node_waiting::update& u) {
  auto& s = self->state;
  std::string why;
  if (const auto* m = std::get_if<model_update>(&u.message)) {
    if (!apply_update(s.model, *s.w, *m, *s.arena)) why = update_problem(s, m->version);
  } else if (const auto* d = std::get_if<dense_update>(&u.message)) {
    if (!apply_update(s.model, *s.w, *d)) why = update_problem(s, d->version);
  } else {
    const auto& snap = std::get<model_snapshot>(u.message);
    if (snap.version < s.model.replica->version)
      why = "a model snapshot at version " + std::to_string(snap.version) +
            " refused: the replica holds version " + std::to_string(s.model.replica->version);
    else if (s.model.pool.active() && snap.pool_coefficients.empty())
      why = "a model snapshot without the seed pool's coefficients (baffle.seed_pool)";
    else if (auto problem = restore_pool(s.model, *s.w, snap.pool_coefficients, snap.params,
                                         snap.version, *s.arena))
      why = "a model snapshot refused: " + *problem;
    else if (!restore(s.model, snap))
      why = "a model snapshot of " + std::to_string(snap.params.size()) +
            " weights does not fit this model";
  }
  if (why.empty()) {
    u.reply.deliver(s.model.replica->version);
  } else {
    u.reply.deliver(refuse(s.id, why));
  }
}

/// Ends a task: the reply owed to the server is paid with the client's answer (or the error), the
/// client actor is kept for the next task if it answered (a refusal or a lost actor is let go),
/// and once no client computes on the replica the held-back messages go on.
/// `client` is null when the actor was lost.
template <class Result>
void finish_task(self_ptr self, const caf::actor_addr& address, client_actor client,
                 caf::expected<Result> answer) {
  auto& s = self->state;
  const auto it = s.busy_clients.find(address);
  if (it == s.busy_clients.end()) return;  // already ended (its actor was lost)
  auto reply = std::get<caf::typed_response_promise<Result>>(std::move(it->second));
  s.busy_clients.erase(it);
  if (answer) {
    reply.deliver(std::move(*answer));
    if (client && s.idle_clients.size() < max_idle_client_actors)
      s.idle_clients.push_back(std::move(client));
  } else {
    reply.deliver(std::move(answer.error()));
  }
  s.computing -= 1;
  s.tasks_done += 1;
  if (s.fault.signal != 0 && s.tasks_done == s.fault.after) std::raise(s.fault.signal);
  if (s.computing == 0) drain(self);
}

/// Hands the task to an idle client actor of this node's, or to a new one (monitored: if it is
/// lost while it computes, the down handler answers the server), and passes its answer back to
/// the server. A client that does not live here is refused.
template <class NodeTask, class Result>
void start_task(self_ptr self, const NodeTask& t, caf::typed_response_promise<Result> reply) {
  auto& s = self->state;
  const auto count = static_cast<uint32_t>(s.w->sc.clients.count);
  if (t.client >= count || s.clients.owner(t.client) != s.id) {
    reply.deliver(
        refuse(s.id, "client " + std::to_string(t.client) + " does not live on this node"));
    return;
  }
  client_actor client;
  if (s.idle_clients.empty()) {
    client = self->template spawn<caf::monitored>(
        client_behavior, s.w, std::shared_ptr<const model_replica>(s.model.replica), s.arena,
        s.pool, s.cache);
  } else {
    client = std::move(s.idle_clients.back());
    s.idle_clients.pop_back();
  }
  const caf::actor_addr address = client.address();
  s.busy_clients.emplace(address, task_reply{std::move(reply)});
  s.computing += 1;
  // The handlers hold the actor until it has answered (the idle list holds it afterwards).
  self->request(client, caf::infinite, t)
      .then([self, address,
             client](Result& r) { finish_task<Result>(self, address, client, std::move(r)); },
            [self, address](caf::error& e) {
              finish_task<Result>(self, address, client_actor{}, std::move(e));
            });
}

void answer_verify(self_ptr self, node_waiting::verify& v) {
  auto& s = self->state;
  if (s.model.replica->version != v.version) {
    v.reply.deliver(refuse(s.id, "asked for the digest of version " + std::to_string(v.version) +
                                     ", the replica holds version " +
                                     std::to_string(s.model.replica->version)));
    return;
  }
  v.reply.deliver(params_digest(s.model.replica->view()));
}

/// Takes the server's layout of clients over nodes, if it is a sound one.
void take_layout(self_ptr self, node_waiting::layout& l) {
  auto& s = self->state;
  if (auto why = message_problem(l.message, limits_for(*s.w))) {
    l.reply.deliver(refuse(s.id, "layout refused: " + *why));
    return;
  }
  s.clients = client_map(l.message);
  l.reply.deliver(s.model.replica->version);
}

/// Handles a message: applies an update, answers a digest request, takes a layout or starts a
/// task.
void process(self_ptr self, node_waiting& m) {
  std::visit(
      [self](auto& x) {
        using type = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<type, node_waiting::update>) {
          apply_now(self, x);
        } else if constexpr (std::is_same_v<type, node_waiting::verify>) {
          answer_verify(self, x);
        } else if constexpr (std::is_same_v<type, node_waiting::layout>) {
          take_layout(self, x);
        } else {
          start_task(self, x.task, std::move(x.reply));
        }
      },
      m.what);
}

/// Whether a message must wait: an update while clients compute on the replica.
bool must_wait(const node_state& s, const node_waiting& m) {
  return s.computing > 0 && std::holds_alternative<node_waiting::update>(m.what);
}

/// Handles a message now if it can be; anything after a held-back message waits behind it.
void handle(self_ptr self, node_waiting m) {
  auto& s = self->state;
  if (!s.waiting.empty() || must_wait(s, m)) {
    s.waiting.push_back(std::move(m));
    return;
  }
  process(self, m);
}

/// Handles the held-back messages in order until one must wait again.
void drain(self_ptr self) {
  auto& s = self->state;
  while (!s.waiting.empty() && !must_wait(s, s.waiting.front())) {
    node_waiting m = std::move(s.waiting.front());
    s.waiting.pop_front();
    process(self, m);
  }
}

}  // namespace

node_actor::behavior_type node_behavior(node_actor::stateful_pointer<node_state> self, uint32_t id,
                                        uint32_t nodes, std::shared_ptr<const world> w,
                                        tbb::task_arena* arena, workspace_pool* pool) {
  auto& st = self->state;
  st.id = id;
  st.clients = client_map::uniform(nodes);
  st.w = std::move(w);
  st.arena = arena;
  st.pool = pool;
  if (const int mb = st.w->sc.run.perturbation_cache_mb; mb > 0)
    st.cache = std::make_shared<perturbation_cache>(static_cast<size_t>(mb) << 20);
  st.model = initial_model(*st.w);
  st.fault = fault_from_environment();
  // A client actor that ends while it computes (it never does unless it failed) cannot answer:
  // the node answers the server for it. An idle one that ends is forgotten.
  self->set_down_handler([self](const caf::down_msg& d) {
    auto& s = self->state;
    if (const auto it = s.busy_clients.find(d.source); it != s.busy_clients.end()) {
      const auto why = refuse(
          s.id, "the actor computing a client's task ended (" + caf::to_string(d.reason) + ")");
      if (std::holds_alternative<caf::typed_response_promise<round_result>>(it->second))
        finish_task<round_result>(self, d.source, client_actor{}, why);
      else
        finish_task<dense_result>(self, d.source, client_actor{}, why);
      return;
    }
    std::erase_if(s.idle_clients, [&](const client_actor& c) { return c.address() == d.source; });
  });
  const auto held = [self](auto message) {
    using message_type = decltype(message);
    if constexpr (std::is_same_v<message_type, node_round_task>) {
      auto reply = self->make_response_promise<round_result>();
      handle(self, {node_waiting::baffle_task{std::move(message), reply}});
      return reply;
    } else if constexpr (std::is_same_v<message_type, node_backprop_task>) {
      auto reply = self->make_response_promise<dense_result>();
      handle(self, {node_waiting::backprop_task{std::move(message), reply}});
      return reply;
    } else {
      auto reply = self->make_response_promise<uint64_t>();
      handle(self, {node_waiting::update{std::move(message), reply}});
      return reply;
    }
  };
  // Updates come from the server, for a worker's node from another process: checked as any such
  // message is (sizes, counts, finite values; actors/wire.hpp) before they wait or apply.
  const auto checked = [self, held, limits = limits_for(*st.w)](auto message) {
    if (auto problem = message_problem(message, limits)) {
      auto reply = self->make_response_promise<uint64_t>();
      reply.deliver(refuse(self->state.id, *problem));
      return reply;
    }
    return held(std::move(message));
  };
  return {
      [checked](const model_snapshot& snap) { return checked(snap); },
      [checked](const model_update& u) { return checked(u); },
      [checked](const dense_update& u) { return checked(u); },
      [held](const node_round_task& t) { return held(t); },
      [held](const node_backprop_task& t) { return held(t); },
      [self](const node_layout& l) {
        auto reply = self->make_response_promise<uint64_t>();
        handle(self, {node_waiting::layout{l, reply}});
        return reply;
      },
      [self](verify_atom, uint64_t version) {
        auto reply = self->make_response_promise<std::string>();
        handle(self, {node_waiting::verify{version, reply}});
        return reply;
      },
  };
}

}  // namespace baffle
