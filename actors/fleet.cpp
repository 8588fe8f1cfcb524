// The server's nodes: which node holds which client, the tasks each node has not answered yet,
// losing a node (its clients and tasks move to the live nodes) and taking one that joins mid-run.
// Nothing here changes a result: a task computes the same bits on any node, on the version it
// names, and every live node holds every version the server has sent.
#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "actors/server_steps.hpp"
#include "actors/wire.hpp"

namespace baffle::server_detail {

namespace {

/// The round (async: update) in flight, for nodes.csv.
int64_t round_in_flight(const server_state& st) {
  return st.w->sc.server.policy == policy_kind::async ? st.interval.round : st.round;
}

node_layout current_layout(const server_state& st) {
  node_layout l;
  l.capacity.assign(st.fleet.size(), 0);
  for (uint32_t i = 0; i < st.fleet.size(); ++i)
    if (node_live(st, i)) l.capacity[i] = st.fleet[i].threads;
  return l;
}

bool in_process(const server_state& st, uint32_t node) {
  return st.fleet[node].host == "in-process";
}

/// Sends the current layout to every live node (before any task that depends on it).
void send_layout(self_ptr self) {
  auto& st = self->state;
  st.clients_map = client_map(current_layout(st));
  const node_layout layout = current_layout(st);
  for (uint32_t i : live_nodes(st)) {
    self->request(st.nodes[i], caf::infinite, layout)
        .then([](uint64_t) {},
              [self, i](caf::error& e) { node_failed(self, i, e, "take the clients' layout"); });
  }
}

/// Sends in-flight task `number` to the node holding its client now.
void send_in_flight(self_ptr self, uint64_t number) {
  auto& st = self->state;
  if (st.clients_map.empty()) {  // no live node (lose_node ends the run before this can happen)
    fail_run(self, "no node is left to send a task to");
    return;
  }
  task_in_flight& t = st.in_flight.at(number);
  const uint32_t client = std::visit([](const auto& x) { return x.client; }, t.task);
  t.node = st.clients_map.owner(client);
  st.node_bytes += std::visit([](const auto& x) { return wire_size(x); }, t.task);
  std::visit(
      [&](const auto& task) {
        using task_type = std::decay_t<decltype(task)>;
        using result_type = std::conditional_t<std::is_same_v<task_type, node_round_task>,
                                               round_result, dense_result>;
        self->request(st.nodes[t.node], caf::infinite, task)
            .then(
                [self, number, node = t.node](result_type& r) {
                  auto& s = self->state;
                  // Gone, or sent to another node since: a lost node's late answer is not taken.
                  const auto it = s.in_flight.find(number);
                  if (it == s.in_flight.end() || it->second.node != node) return;
                  // The entry stays until the result is taken: a bad result is computed again.
                  const auto problem = it->second.reply(any_result{std::move(r)});
                  if (!problem) {
                    s.fleet[node].tasks_done += 1;
                    s.in_flight.erase(number);
                  } else if (in_process(s, node)) {
                    s.in_flight.erase(number);
                    fail_run(self, *problem);
                  } else {
                    lose_node(self, node, "it sent a malformed result: " + *problem);
                  }
                },
                [self, number, client, node = t.node](caf::error& e) {
                  auto& s = self->state;
                  const auto it = s.in_flight.find(number);
                  if (it == s.in_flight.end() || it->second.node != node || s.over) return;
                  if (in_process(s, node)) {
                    reply_handler reply = std::move(it->second.reply);
                    s.in_flight.erase(it);
                    static_cast<void>(reply(std::move(e)));
                    return;
                  }
                  // A worker that refuses or fails a task is of no use to the run: its tasks,
                  // this one included, go to the other nodes.
                  lose_node(self, node,
                            refusal(e).value_or(fmt::format("its task for client {} failed: {}",
                                                            client, caf::to_string(e))));
                });
      },
      t.task);
}

/// No node is left to compute the tasks in flight: checkpoint the last finished round (the sink
/// writes it) and end the run, saying how to go on.
void no_node_left(self_ptr self, const std::string& last_loss) {
  auto& st = self->state;
  std::string saved = "no checkpoint was written (this run has no outputs, or had not started)";
  if (st.sink && st.driver.state_now && st.started) {
    int64_t round = 0;
    std::string state = st.driver.state_now(self, round);
    st.sink->on_checkpoint(round, std::move(state));
    saved = fmt::format("a checkpoint after round {} was written", round);
  }
  fail_run(self, fmt::format("no node is left to compute ({}); {}: start workers and continue it "
                             "with --resume",
                             last_loss, saved));
}

}  // namespace

void node_failed(self_ptr self, uint32_t node, const caf::error& e, const std::string& what) {
  auto& st = self->state;
  if (st.over || !node_live(st, node)) return;
  const auto why = refusal(e);
  if (in_process(st, node)) {
    fail_run(self,
             why.value_or(fmt::format("node {} did not {}: {}", node, what, caf::to_string(e))));
  } else {
    lose_node(self, node, why.value_or(fmt::format("did not {}: {}", what, caf::to_string(e))));
  }
}

bool node_live(const server_state& st, uint32_t i) {
  return i < st.nodes.size() && static_cast<bool>(st.nodes[i]) && !st.fleet[i].left;
}

std::vector<uint32_t> live_nodes(const server_state& st) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < st.nodes.size(); ++i)
    if (node_live(st, i)) out.push_back(i);
  return out;
}

void start_fleet(self_ptr self, std::vector<node_actor> nodes, std::vector<node_record> info) {
  auto& st = self->state;
  st.nodes = std::move(nodes);
  st.fleet = std::move(info);
  st.fleet.resize(st.nodes.size());
  for (uint32_t i = 0; i < st.fleet.size(); ++i) st.fleet[i].node = i;
  st.clients_map = client_map(current_layout(st));
  for (const node_actor& n : st.nodes) self->monitor(n);
}

void send_initial_layout(self_ptr self) {
  auto& st = self->state;
  const node_layout l = current_layout(st);
  if (std::any_of(l.capacity.begin(), l.capacity.end(), [](uint32_t c) { return c != 1; }))
    send_layout(self);
}

void send_through_node(self_ptr self, std::variant<node_round_task, node_backprop_task> task,
                       reply_handler reply) {
  auto& st = self->state;
  const uint64_t number = ++st.tasks_sent;
  st.in_flight.emplace(number, task_in_flight{0, std::move(task), std::move(reply)});
  // The result's bytes once, whichever node ends up computing it.
  st.node_bytes += st.costs.result_bytes;
  send_in_flight(self, number);
}

void lose_node(self_ptr self, uint32_t node, const std::string& reason) {
  auto& st = self->state;
  if (st.over || !node_live(st, node)) return;
  node_record& r = st.fleet[node];
  r.left = round_in_flight(st);
  r.reason = reason;
  const std::string loss =
      fmt::format("node {} on {} lost in round {}: {}", node, r.host, *r.left, reason);
  if (st.sink) st.sink->on_log(loss);
  report_nodes(self);
  // A worker that is only slow or hung learns that it is out (and its process ends).
  self->send_exit(st.nodes[node], caf::exit_reason::user_shutdown);
  if (live_nodes(st).empty()) {
    no_node_left(self, loss);
    return;
  }
  // Its clients go to the live nodes; the layout reaches each node before any task sent again.
  send_layout(self);
  std::vector<uint64_t> again;
  for (const auto& [number, t] : st.in_flight)
    if (t.node == node) again.push_back(number);
  for (uint64_t number : again) send_in_flight(self, number);
}

void join_node(self_ptr self, node_joined joined) {
  auto& st = self->state;
  const uint32_t id = joined.node;
  // Only this process's registry admits workers (after their proof of the secret): anyone else
  // holding the server's handle (a worker's node does) is ignored.
  const caf::strong_actor_ptr sender = self->current_sender();
  if (sender == nullptr || sender->address() != st.control.registry) {
    if (st.sink)
      st.sink->on_log(fmt::format(
          "ignored a node_joined message that did not come from the "
          "registry (from {})",
          sender == nullptr ? std::string("nobody") : caf::to_string(sender->address())));
    return;
  }
  if (st.over || !joined.handle || id >= max_layout_nodes ||
      (id < st.nodes.size() && st.nodes[id])) {
    if (st.sink) st.sink->on_log(fmt::format("a node that joined as id {} was not taken", id));
    return;
  }
  if (id >= st.nodes.size()) {
    st.nodes.resize(id + 1);
    // Ids between (offered to workers not ready yet) stay empty until their node arrives.
    const size_t before = st.fleet.size();
    st.fleet.resize(id + 1);
    for (size_t i = before; i < st.fleet.size(); ++i) st.fleet[i].node = static_cast<uint32_t>(i);
  }
  st.nodes[id] = joined.handle;
  node_record& r = st.fleet[id];
  r.host = joined.host;
  r.threads = joined.threads;
  r.joined = round_in_flight(st);
  self->monitor(joined.handle);
  // The current model first, then the layout that gives it clients: both arrive before any task.
  self->request(joined.handle, caf::infinite, snapshot_of(st.model))
      .then([](uint64_t) {},
            [self, id](caf::error& e) { node_failed(self, id, e, "take the model"); });
  send_layout(self);
  if (st.sink)
    st.sink->on_log(fmt::format("node {} joined from {} ({} thread(s)) in round {}", id, r.host,
                                r.threads, r.joined));
  report_nodes(self);
}

void report_nodes(self_ptr self) {
  auto& st = self->state;
  if (!st.sink) return;
  std::vector<node_record> present;
  for (uint32_t i = 0; i < st.fleet.size(); ++i)
    if (st.nodes[i]) present.push_back(st.fleet[i]);
  st.sink->on_nodes(present);
}

}  // namespace baffle::server_detail
