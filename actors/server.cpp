// The server actor: its behaviour (start, resume) and the steps both policy drivers share
// (server_steps.hpp); the drivers are round_driver.cpp and fedbuff_driver.cpp.
#include "actors/server.hpp"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "actors/algorithm.hpp"
#include "actors/checkpoint.hpp"
#include "actors/node.hpp"
#include "models/partition.hpp"

namespace baffle {

std::vector<uint32_t> select_clients(uint64_t seed, int64_t round, int count, int per_round) {
  std::vector<uint32_t> chosen;
  if (per_round >= count) {
    chosen.resize(count);
    for (int i = 0; i < count; ++i) chosen[i] = static_cast<uint32_t>(i);
    return chosen;
  }
  const stream_id s{derive_seed(seed, purpose::selection, 0), purpose::selection,
                    static_cast<uint32_t>(round)};
  chosen =
      sample_without_replacement(s, static_cast<uint32_t>(count), static_cast<uint32_t>(per_round));
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

uint64_t round_seed(uint64_t seed, int64_t round) {
  return derive_seed(seed, purpose::round_seed, static_cast<uint64_t>(round));
}

namespace server_detail {

void deliver_outcome(self_ptr self) {
  auto& st = self->state;
  if (st.sink) st.sink->on_clients(st.clients_seen);
  report_nodes(self);
  st.totals.nodes.clear();
  for (const node_actor& n : st.nodes)
    if (n) st.totals.nodes.push_back(caf::actor_cast<caf::actor>(n));
  st.totals.model_digest = params_digest(st.model.replica->view());
  if (st.started) st.promise.deliver(st.totals);  // else the run message delivers it
}

/// Asks every live node for its replica's digest at the server's current version and compares it
/// with the server's own; a mismatch (or a refusal) becomes the run's error. Then calls `done`.
void verify_nodes(self_ptr self, std::function<void()> done) {
  auto& st = self->state;
  const uint64_t version = st.model.replica->version;
  const std::string expected = params_digest(st.model.replica->view());
  const std::vector<uint32_t> live = live_nodes(st);
  auto pending = std::make_shared<size_t>(live.size());
  const auto finish_one = [pending, done]() {
    if (--*pending == 0 && done) done();
  };
  for (uint32_t i : live) {
    self->request(st.nodes[i], caf::infinite, verify_atom::value, version)
        .then(
            [self, i, version, expected, finish_one](const std::string& digest) {
              auto& s = self->state;
              if (digest != expected && s.totals.error.empty())
                s.totals.error = "node " + std::to_string(i) + ": its replica's digest " + digest +
                                 " differs from the server's " + expected + " at model version " +
                                 std::to_string(version);
              finish_one();
            },
            [self, i, finish_one](caf::error& e) {
              auto& s = self->state;
              // A worker lost at the end leaves the others to vouch for the model.
              if (s.fleet[i].host == "in-process" || refusal(e)) {
                if (s.totals.error.empty())
                  s.totals.error = "node " + std::to_string(i) +
                                   " did not report its digest: " + caf::to_string(e);
              } else if (!s.fleet[i].left) {
                s.fleet[i].left = s.totals.rounds;
                s.fleet[i].reason = "did not report its digest: " + caf::to_string(e);
              }
              finish_one();
            });
  }
  if (live.empty() && done) done();
}

/// Ends the run: on success the nodes' replicas must match the server's model first.
void finish_run(self_ptr self) {
  auto& st = self->state;
  st.over = true;
  if (!st.totals.error.empty()) {
    deliver_outcome(self);
    return;
  }
  verify_nodes(self, [self] { deliver_outcome(self); });
}

/// Ends the run with an error (the message says what went wrong and where).
void fail_run(self_ptr self, std::string why) {
  auto& st = self->state;
  if (st.over) return;
  st.totals.error = std::move(why);
  finish_run(self);
}

/// A client's refusal of a task (it names the reason), as opposed to a client that vanished.
std::optional<std::string> refusal(const caf::error& e) {
  if (e.category() != caf::atom("system") ||
      e.code() != static_cast<uint8_t>(caf::sec::invalid_argument))
    return std::nullopt;
  const caf::message& m = e.context();
  if (m.size() == 1 && m.match_element<std::string>(0)) return m.get_as<std::string>(0);
  return std::string("a client refused its task");
}

std::string lost_task(uint32_t client, const caf::error& e) {
  return fmt::format("the task of client {} failed on its in-process node: {}", client,
                     caf::to_string(e));
}

}  // namespace server_detail

/// The round's events from its plan: the server starts the round and dispatches to every selected
/// client that did not drop; counted results arrive; late ones are given up at the round's end,
/// when the server aggregates. Sorted by (time, kind, client), so the log is in virtual-time order.
std::vector<event_record> round_events(const round_plan& plan, int64_t round, sim_time start,
                                       int participants) {
  using k = event_record::kind;
  std::vector<event_record> ev;
  ev.push_back(
      {start, round, k::round_start, -1, "selected=" + std::to_string(plan.clients.size())});
  for (const auto& p : plan.clients) {
    const int64_t c = p.client;
    if (p.fate == client_fate::dropped) {
      ev.push_back({start, round, k::dropout, c, ""});
      continue;
    }
    ev.push_back({start, round, k::dispatch, c, ""});
    if (p.fate == client_fate::counted) {
      ev.push_back({p.arrival, round, k::arrive, c, ""});
    } else {
      ev.push_back(
          {plan.end, round, k::late, c, fmt::format("would_arrive={:.9f}", p.arrival.seconds())});
    }
  }
  ev.push_back({plan.end, round, k::aggregate, -1, "participants=" + std::to_string(participants)});
  std::stable_sort(ev.begin(), ev.end(), [](const event_record& a, const event_record& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.what != b.what) return a.what < b.what;
    return a.client < b.client;
  });
  return ev;
}

namespace server_detail {

/// Evaluates when due, updates the totals, reports the update; returns whether the run is over.
bool complete_update(self_ptr self, round_record& rec, std::vector<event_record> events) {
  auto& st = self->state;
  const world& w = *st.w;
  rec.end_time = st.now;
  rec.node_bytes = std::exchange(st.node_bytes, 0);
  if (const auto m = std::exchange(st.probe.measured, std::nullopt)) {
    rec.grad_cosine = m->cosine;
    rec.grad_norm_ratio = m->norm_ratio;
    rec.true_grad_norm = m->true_norm;
  }
  st.totals.node_bytes_total += rec.node_bytes;
  const bool last = rec.round >= w.sc.train.rounds;
  if (last || rec.round % w.sc.train.eval_every == 0) {
    // With an EMA the evaluated model is the average, as in the reference code.
    const std::span<const float> eval_params =
        st.model.ema.empty() ? st.model.replica->view() : std::span<const float>(st.model.ema);
    const auto test = evaluate(w, eval_params, w.data.test, {}, *st.arena, st.pool);
    rec.test_loss = test.mean_loss();
    rec.test_acc = test.accuracy();
    if (!w.parts.validation.empty()) {
      const auto val =
          evaluate(w, eval_params, w.data.train, w.parts.validation, *st.arena, st.pool);
      rec.val_loss = val.mean_loss();
      rec.val_acc = val.accuracy();
    }
    st.totals.final_test_loss = test.mean_loss();
    st.totals.final_test_acc = test.accuracy();
    // With an EMA, the weights themselves too (the same model until the EMA's first update).
    if (w.sc.train.ema_decay > 0.0) {
      const auto raw = st.model.ema.empty() ? test
                                            : evaluate(w, st.model.replica->view(), w.data.test, {},
                                                       *st.arena, st.pool);
      rec.test_loss_raw = raw.mean_loss();
      rec.test_acc_raw = raw.accuracy();
    }
    // The same model with the clients' forwards: what a device at that precision would score.
    if (const forward_precision p = w.sc.model.precision; p != forward_precision::f32) {
      const auto lowp = evaluate(w, eval_params, w.data.test, {}, *st.arena, st.pool, p);
      rec.test_loss_lowp = lowp.mean_loss();
      rec.test_acc_lowp = lowp.accuracy();
    }
  }
  st.totals.rounds = rec.round;
  st.totals.sim_time_s = st.now.seconds();
  st.totals.bytes_up_total += rec.bytes_up;
  st.totals.bytes_down_total += rec.bytes_down;
  st.totals.forward_passes_total += rec.forward_passes;
  if (st.sink) {
    st.sink->on_round(rec);
    st.sink->on_events(events);
  }
  if (last) finish_run(self);
  return last;
}

/// After a round (async: an update, its freed slot refilled): writes a checkpoint when one is due
/// or a stop was requested; on a stop, ends the run. Returns whether it stopped.
bool checkpoint_or_stop(self_ptr self, int64_t round) {
  auto& st = self->state;
  const bool stop = st.control.stop_requested && st.control.stop_requested();
  const int every = st.w->sc.run.checkpoint_every;
  if (st.sink && (stop || (every > 0 && round % every == 0)))
    st.sink->on_checkpoint(round, save_server_state(st));
  if (!stop) return false;
  st.totals.stopped = true;
  finish_run(self);
  return true;
}

}  // namespace server_detail

server_actor::behavior_type server_behavior(server_actor::stateful_pointer<server_state> self,
                                            std::shared_ptr<const world> w, model_state model,
                                            std::vector<node_actor> nodes, metrics_sink* sink,
                                            tbb::task_arena* arena, workspace_pool* pool,
                                            run_control control) {
  using namespace server_detail;
  auto& st = self->state;
  st.control = std::move(control);
  st.w = std::move(w);
  st.model = std::move(model);
  st.sink = sink;
  start_fleet(self, std::move(nodes), std::move(st.control.node_info));
  const world& wr = *st.w;
  const auto histograms = label_histograms(wr.data.train, wr.parts);
  st.clients_seen.resize(wr.parts.clients.size());
  st.device_version.assign(wr.parts.clients.size(), 0);
  st.device_state.assign(wr.parts.clients.size(), 1);
  for (size_t c = 0; c < st.clients_seen.size(); ++c) {
    client_record& r = st.clients_seen[c];
    r.client = static_cast<uint32_t>(c);
    r.shard_size = static_cast<int64_t>(wr.parts.clients[c].size());
    r.labels = histograms[c];
    r.gflops = wr.devices[c].gflops;
    r.uplink_latency = wr.uplink[c].latency;
    r.downlink_latency = wr.downlink[c].latency;
  }
  st.arena = arena;
  st.pool = pool;
  // The one place that chooses the algorithm and the policy driver.
  switch (wr.sc.train.algorithm) {
    case algorithm_kind::baffle:
      st.algorithm = make_baffle_algorithm();
      break;
    case algorithm_kind::fedsgd:
      st.algorithm = make_baseline_algorithm(baseline::fedsgd);
      break;
    case algorithm_kind::fedavg:
      st.algorithm = make_baseline_algorithm(baseline::fedavg);
      break;
  }
  switch (wr.sc.server.policy) {
    case policy_kind::sync:
    case policy_kind::deadline:
    case policy_kind::first_m:
      st.driver = round_policy_driver();
      break;
    case policy_kind::async:
      st.driver = fedbuff_driver();
      break;
  }
  st.costs = st.algorithm->costs(wr);
  st.limits = limits_for(wr);
  // A worker's node that goes away (its process died, or hung past the connection timeout) is
  // lost: its clients and unanswered tasks move to the live nodes. An in-process one ends the run.
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& s = self->state;
    if (s.over) return;
    for (uint32_t i = 0; i < s.nodes.size(); ++i) {
      if (!node_live(s, i) || s.nodes[i].address() != dm.source) continue;
      if (s.fleet[i].host == "in-process") {
        fail_run(self, fmt::format("node {} is gone ({})", i, caf::to_string(dm.reason)));
      } else {
        lose_node(self, i, "its process is gone (" + caf::to_string(dm.reason) + ")");
      }
      return;
    }
  });
  return {
      [self](run_atom) -> caf::result<run_outcome> {
        auto& s = self->state;
        // Once: the process that spawned the server asks before any node has seen its handle (a
        // worker's node holds it later, and must not start the run again).
        if (s.started)
          return caf::make_error(caf::sec::invalid_argument, "the run was already started");
        s.started = true;
        s.promise = self->make_response_promise<run_outcome>();
        if (s.over) {  // every node was lost before the run began
          s.promise.deliver(s.totals);
          return caf::result<run_outcome>(s.promise);
        }
        report_nodes(self);
        if (s.control.resume_state.empty()) {
          send_initial_layout(self);
          s.driver.start(self);
          return caf::result<run_outcome>(s.promise);
        }
        // Continue after the checkpointed round exactly as the original run did.
        const auto loaded = load_server_state(s.control.resume_state, s);
        s.control.resume_state.clear();
        if (!loaded) {
          s.totals.error = loaded.error();
          s.totals.error_class = loaded.failure().kind;
          s.promise.deliver(s.totals);
          return caf::result<run_outcome>(s.promise);
        }
        // The nodes start from the checkpoint's model, sent before any task (the cost of
        // resuming, not of a round: left out of node_bytes).
        broadcast(self, snapshot_of(s.model));
        send_initial_layout(self);
        s.driver.resume(self);
        return caf::result<run_outcome>(s.promise);
      },
      [self](node_joined& joined) { join_node(self, std::move(joined)); },
  };
}

}  // namespace baffle