// The server actor: its behaviour (start, resume) and the steps both policy drivers share
// (server_steps.hpp); the drivers are round_driver.cpp and fedbuff_driver.cpp.
#include "actors/server.hpp"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "actors/checkpoint.hpp"
#include "actors/node.hpp"
#include "actors/server_steps.hpp"
#include "models/partition.hpp"

namespace baffle {

std::vector<double> aggregate_scalars(const std::vector<round_result>& sorted_results, int k) {
  std::vector<double> dbar(k, 0.0);
  double total = 0.0;
  for (const auto& r : sorted_results) {
    const double n = r.samples;
    total += n;
    for (int j = 0; j < k; ++j) dbar[j] += n * static_cast<double>(r.scalars[j]);
  }
  if (total > 0)
    for (auto& d : dbar) d /= total;
  return dbar;
}

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

std::pair<std::vector<stream_id>, std::vector<float>> per_client_terms(
    const std::vector<round_result>& sorted_results, const perturbation_plan& plan) {
  double total = 0.0;
  for (const auto& r : sorted_results) total += r.samples;
  std::vector<stream_id> streams;
  std::vector<float> coeffs;
  const double scale = 1.0 / (static_cast<double>(plan.k) * plan.sigma);
  for (const auto& r : sorted_results) {
    const uint64_t seed =
        client_perturbation_seed(plan.round_seed, seed_mode::per_client, r.client);
    const double weight = total > 0 ? r.samples / total : 0.0;
    for (int k = 0; k < plan.k; ++k) {
      streams.push_back(perturbation_stream(seed, k));
      coeffs.push_back(static_cast<float>(weight * static_cast<double>(r.scalars[k]) * scale));
    }
  }
  return {std::move(streams), std::move(coeffs)};
}

uint64_t round_seed(uint64_t seed, int64_t round) {
  return derive_seed(seed, purpose::round_seed, static_cast<uint64_t>(round));
}

namespace server_detail {

void deliver_outcome(self_ptr self) {
  auto& st = self->state;
  if (st.sink) st.sink->on_clients(st.clients_seen);
  st.totals.model_digest = params_digest(st.model.replica->view());
  st.promise.deliver(st.totals);
}

/// Asks every node for its replica's digest at the server's current version and compares it with
/// the server's own; a mismatch (or a refusal) becomes the run's error. Then calls `done`.
void verify_nodes(self_ptr self, std::function<void()> done) {
  auto& st = self->state;
  const uint64_t version = st.model.replica->version;
  const std::string expected = params_digest(st.model.replica->view());
  auto pending = std::make_shared<size_t>(st.nodes.size());
  const auto finish_one = [self, pending, done]() {
    if (--*pending == 0 && done) done();
  };
  for (uint32_t i = 0; i < st.nodes.size(); ++i) {
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
              if (s.totals.error.empty())
                s.totals.error = "node " + std::to_string(i) +
                                 " did not report its digest: " + caf::to_string(e);
              finish_one();
            });
  }
  if (st.nodes.empty() && done) done();
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

/// Sample-and-staleness weights of results: weight_i = n_i s_i / sum_j n_j (FedBuff: a stale
/// result moves the model less; with every s_i = 1 this is the plain sample-weighted mean).
std::vector<double> result_weights(const std::vector<uint32_t>& samples,
                                   const std::vector<double>& staleness_factor) {
  double total = 0.0;
  for (uint32_t n : samples) total += n;
  std::vector<double> w(samples.size(), 0.0);
  if (total <= 0) return w;
  for (size_t i = 0; i < samples.size(); ++i) w[i] = samples[i] * staleness_factor[i] / total;
  return w;
}

/// Sends an update the server has applied to every node, before any task on the new version (CAF
/// keeps the order between two actors); a node that refuses it stops the run. Every
/// `verify_every` versions the nodes' digests are compared with the server's.
template <class Update>
void broadcast(self_ptr self, const Update& u) {
  auto& st = self->state;
  st.node_bytes += wire_size(u) * st.nodes.size();
  for (const node_actor& node : st.nodes) {
    self->request(node, caf::infinite, u)
        .then([](uint64_t) {},
              [self](caf::error& e) {
                fail_run(self, refusal(e).value_or("a node did not apply an update: " +
                                                   caf::to_string(e)));
              });
  }
  const int every = st.control.verify_every;
  if (every > 0 && u.version % static_cast<uint64_t>(every) == 0) {
    verify_nodes(self, [self] {
      auto& s = self->state;
      if (!s.totals.error.empty() && !s.over) finish_run(self);
    });
  }
}

/// The baselines' server step from dense results (client-id order, or async buffer order) and
/// their weights: the weighted mean, applied through the one update path.
void apply_baseline_update(self_ptr self, const world& w,
                           const std::vector<const dense_result*>& rs,
                           const std::vector<double>& weights, int64_t step) {
  auto& st = self->state;
  const size_t n = st.model.replica->params.size();
  dense_update u;
  u.version = st.model.replica->version + 1;
  u.step = step;
  u.values.assign(n, 0.0);
  for (size_t j = 0; j < rs.size(); ++j)
    for (size_t i = 0; i < n; ++i)
      u.values[i] += weights[j] * static_cast<double>(rs[j]->values[i]);
  apply_update(st.model, w, u);
  if (st.control.on_dense_update) st.control.on_dense_update(u);
  broadcast(self, u);
}

/// Records the update that produced the current version, for replaying clients.
void record_update(server_state& st, const model_update& u) {
  st.update_bytes_prefix.push_back(st.update_bytes_prefix.back() + wire_size(u));
  const double elements = static_cast<double>(u.coefficients.size()) *
                          static_cast<double>(st.model.replica->params.size());
  st.update_flops_prefix.push_back(st.update_flops_prefix.back() +
                                   elements * replay_flops_per_element);
}

/// BAFFLE's server step from groups of (perturbation seed, K coefficients), through the one
/// update path; the update is recorded for replaying devices.
void apply_baffle_update(self_ptr self, const world& w, std::vector<uint64_t> seeds,
                         std::vector<double> coefficients, int64_t step) {
  auto& st = self->state;
  model_update u;
  u.version = st.model.replica->version + 1;
  u.step = step;
  u.seeds = std::move(seeds);
  u.coefficients = std::move(coefficients);
  apply_update(st.model, w, u, *st.arena);
  record_update(st, u);
  if (st.control.on_update) st.control.on_update(u);
  broadcast(self, u);
}

/// How client c gets the current model: the weights, or (replay) the updates it missed since the
/// version its device holds; under "auto", whichever has it computing sooner (ties: weights).
model_download download_for(const server_state& st, uint32_t c) {
  if (!st.costs.replay) return {};
  const uint64_t from = st.device_version[c];
  const uint64_t to = st.model.replica->version;
  const model_download replay{st.update_bytes_prefix[to] - st.update_bytes_prefix[from],
                              st.update_flops_prefix[to] - st.update_flops_prefix[from], true};
  if (st.w->sc.baffle.download == download_mode::replay) return replay;
  const world& w = *st.w;
  const sim_time by_replay = planned_start(w, c, sim_time{}, st.costs, replay);
  const sim_time by_weights = planned_start(w, c, sim_time{}, st.costs, model_download{});
  return by_replay < by_weights ? replay : model_download{};
}

/// The costs of one client's task under the scenario (the same for every round).
round_costs make_costs(const server_state& st) {
  const world& w = *st.w;
  round_costs costs;
  costs.batch_size = w.sc.train.batch_size;
  if (w.sc.train.algorithm != algorithm_kind::baffle) {
    backprop_task task;
    costs.task_bytes = wire_size(task);
    costs.model_bytes = w.model_bytes;
    costs.result_bytes = w.dense_result_bytes;
    costs.forward_passes = baseline_steps(w);
    costs.flops_factor = backprop_flops_factor;
    return costs;
  }
  round_task task;
  round_result sized;  // a result of this scenario's size, for the link model
  sized.scalars.resize(static_cast<size_t>(w.sc.baffle.k));
  costs.task_bytes = wire_size(task);
  costs.result_bytes = wire_size(sized);
  costs.forward_passes = forward_passes_per_round(w.sc.baffle.k, w.scheme);
  costs.replay = w.sc.baffle.download != download_mode::weights;
  costs.model_bytes = w.model_bytes;
  return costs;
}

round_task make_round_task(const server_state& st, uint64_t round, uint64_t seed_round) {
  const world& w = *st.w;
  round_task task;
  task.round = round;
  task.model_version = st.model.replica->version;
  task.round_seed = round_seed(w.sc.seed, static_cast<int64_t>(seed_round));
  task.k = static_cast<uint32_t>(w.sc.baffle.k);
  task.sigma = static_cast<float>(w.sc.baffle.sigma);
  task.scheme = w.scheme;
  task.seeds = w.seeds;
  task.batch_size = static_cast<uint32_t>(w.sc.train.batch_size);
  return task;
}

backprop_task make_backprop_task(const server_state& st, uint64_t round) {
  const world& w = *st.w;
  backprop_task task;
  task.round = round;
  task.model_version = st.model.replica->version;
  task.kind = w.sc.train.algorithm == algorithm_kind::fedavg ? baseline::fedavg : baseline::fedsgd;
  task.batch_size = static_cast<uint32_t>(w.sc.train.batch_size);
  task.local_steps = static_cast<uint32_t>(baseline_steps(w));
  task.local_lr = static_cast<float>(w.sc.train.local_lr);
  return task;
}

/// Evaluates when due, updates the totals, reports the update; returns whether the run is over.
bool complete_update(self_ptr self, round_record& rec, std::vector<event_record> events) {
  auto& st = self->state;
  const world& w = *st.w;
  rec.end_time = st.now;
  rec.node_bytes = std::exchange(st.node_bytes, 0);
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
  st.nodes = std::move(nodes);
  st.sink = sink;
  const world& wr = *st.w;
  const auto histograms = label_histograms(wr.data.train, wr.parts);
  st.clients_seen.resize(wr.parts.clients.size());
  st.device_version.assign(wr.parts.clients.size(), 0);
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
  return {
      [self](run_atom) -> caf::typed_response_promise<run_outcome> {
        auto& s = self->state;
        s.promise = self->make_response_promise<run_outcome>();
        s.costs = make_costs(s);
        const bool async = s.w->sc.server.policy == policy_kind::async;
        if (!s.control.resume_state.empty()) {
          // Continue after the checkpointed round exactly as the original run did.
          const auto loaded = load_server_state(s.control.resume_state, s);
          s.control.resume_state.clear();
          if (!loaded) {
            s.totals.error = loaded.error();
            s.totals.error_class = loaded.failure().kind;
            s.promise.deliver(s.totals);
            return s.promise;
          }
          // The nodes start from the checkpoint's model, sent before any task. That transfer is
          // the cost of resuming, not of a round: it is left out of node_bytes.
          const uint64_t before = s.node_bytes;
          broadcast(self, snapshot_of(s.model));
          s.node_bytes = before;
          if (async) {
            resend_unsettled(self);
            async_advance(self);
          } else {
            start_round(self);
          }
        } else if (async) {
          start_async(self);
        } else {
          start_round(self);
        }
        return s.promise;
      },
  };
}

}  // namespace baffle