// Server behaviour (round policies and async) over pure aggregation helpers.
#include "actors/server.hpp"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "actors/checkpoint.hpp"
#include "actors/node.hpp"
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

namespace {

using self_ptr = server_actor::stateful_pointer<server_state>;

void start_round(self_ptr self);

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

uint32_t node_count(const server_state& st) {
  return static_cast<uint32_t>(st.nodes.size());
}

node_round_task to_node(uint32_t client, const round_task& t) {
  return {client, t};
}
node_backprop_task to_node(uint32_t client, const backprop_task& t) {
  return {client, t};
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

/// What is wrong with a result, checked in every build type because results are messages: the
/// client, the round and the sizes must be what was asked, and the virtual finish time what the
/// plan said (the same compute_finish formula on both sides).
template <class Result>
std::optional<std::string> result_problem(const server_state& st, const Result& r, uint32_t client,
                                          uint64_t round, sim_time arrival) {
  const world& w = *st.w;
  std::string why;
  if (r.client != client) {
    why = "answered for client " + std::to_string(r.client);
  } else if (r.round != round) {
    why = "answered round " + std::to_string(r.round) + " instead of " + std::to_string(round);
  } else if (r.samples == 0 || r.samples > static_cast<uint32_t>(w.sc.train.batch_size) *
                                               std::max(1, baseline_steps(w))) {
    why = "reported " + std::to_string(r.samples) + " samples";
  } else if (r.finish_time + transfer_time(w.uplink[client], st.costs.result_bytes) != arrival) {
    why = fmt::format("finished at {:.9f} s, the plan says its result arrives at {:.9f} s",
                      r.finish_time.seconds(), arrival.seconds());
  } else if constexpr (std::is_same_v<Result, round_result>) {
    if (r.scalars.size() != static_cast<size_t>(w.sc.baffle.k))
      why = "sent " + std::to_string(r.scalars.size()) +
            " scalars for K = " + std::to_string(w.sc.baffle.k);
  } else {
    if (r.values.size() != st.model.replica->params.size())
      why = "sent " + std::to_string(r.values.size()) + " values for a model of " +
            std::to_string(st.model.replica->params.size());
  }
  if (why.empty()) return std::nullopt;
  return "client " + std::to_string(client) + ": " + why;
}

}  // namespace

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

namespace {

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

// ---------------------------------------------------------------------------------------------
// Round policies: sync, deadline, first-m

void finish_round(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  std::sort(st.results.begin(), st.results.end(),
            [](const round_result& a, const round_result& b) { return a.client < b.client; });
  std::sort(st.dense.begin(), st.dense.end(),
            [](const dense_result& a, const dense_result& b) { return a.client < b.client; });

  round_record rec;
  rec.round = st.round;
  rec.participants = static_cast<int>(st.results.size() + st.dense.size());
  rec.selected = static_cast<int>(st.plan.clients.size());
  rec.dropped = st.plan.dropped;
  rec.late = st.plan.late;
  // The policy fixed the round's end before it started; results confirm their arrival times.
  const sim_time end = st.plan.end;
  double loss_weighted = 0.0, samples = 0.0;
  const auto account = [&](const auto& r) {
    // Every result of a round has the size the link model charged (K scalars, or the model's
    // values): serializing each one again only to measure it cost ~0.7 ms a round of 1,000.
    const uint64_t up = st.costs.result_bytes;
    rec.bytes_up += up;
    rec.forward_passes += r.forward_passes;
    loss_weighted += static_cast<double>(r.samples) * r.base_loss;
    samples += r.samples;
  };
  for (const auto& r : st.results) account(r);
  for (const auto& r : st.dense) account(r);
  const sim_time round_start = st.now;
  // Per-client accounting from the plan: the same times the link and device models charged.
  for (const auto& p : st.plan.clients) {
    client_record& c = st.clients_seen[p.client];
    c.selected += 1;
    if (p.fate == client_fate::dropped) {
      c.dropped += 1;
      continue;
    }
    c.participated += p.fate == client_fate::counted;
    c.late += p.fate == client_fate::late;
    const sim_time link = transfer_time(w.downlink[p.client], p.down_bytes) +
                          transfer_time(w.uplink[p.client], st.costs.result_bytes);
    c.link_time += link;
    c.compute_time += (p.arrival - round_start) - link;
  }
  // Late clients did their work and sent their results; the server discarded them.
  rec.bytes_up += static_cast<uint64_t>(st.plan.late) * st.costs.result_bytes;
  rec.wasted_forward_passes = static_cast<int64_t>(st.plan.late) * st.costs.forward_passes;
  rec.bytes_down = st.round_bytes_down;
  rec.train_loss = samples > 0 ? loss_weighted / samples : 0.0;

  if (!st.dense.empty()) {
    std::vector<const dense_result*> rs;
    std::vector<uint32_t> n;
    for (const auto& r : st.dense) {
      rs.push_back(&r);
      n.push_back(r.samples);
    }
    apply_baseline_update(self, w, rs, result_weights(n, std::vector<double>(n.size(), 1.0)),
                          st.round);
  } else if (!st.results.empty()) {
    perturbation_plan plan;
    plan.round_seed = round_seed(w.sc.seed, st.round);
    plan.k = w.sc.baffle.k;
    plan.sigma = static_cast<float>(w.sc.baffle.sigma);
    std::vector<uint64_t> seeds;
    std::vector<double> coefficients;
    // The coefficients as the reconstruction uses them (rounded to float), so the update
    // message rebuilds exactly the gradient the server applies.
    switch (w.seeds) {
      case seed_mode::shared: {
        const double scale = 1.0 / (static_cast<double>(plan.k) * plan.sigma);
        seeds.push_back(plan.round_seed);
        for (double d : aggregate_scalars(st.results, plan.k))
          coefficients.push_back(static_cast<float>(d * scale));
        break;
      }
      case seed_mode::per_client: {
        const auto [streams, coeffs] = per_client_terms(st.results, plan);
        for (const auto& r : st.results)
          seeds.push_back(
              client_perturbation_seed(plan.round_seed, seed_mode::per_client, r.client));
        coefficients.assign(coeffs.begin(), coeffs.end());
        break;
      }
    }
    apply_baffle_update(self, w, std::move(seeds), std::move(coefficients), st.round);
  }
  st.now = end;
  if (complete_update(self, rec, round_events(st.plan, st.round, round_start, rec.participants)))
    return;
  if (!checkpoint_or_stop(self, st.round)) start_round(self);
}

/// Plans the round under the policy, charges the downlink and sends each counted client its
/// task, collecting replies into `into` (results of other rounds are ignored); finishes the round
/// when the last reply (or failure) is in. Dropped clients never receive the task; late ones do,
/// and compute for nothing.
template <class Task, class Result>
void dispatch(self_ptr self, const std::vector<uint32_t>& chosen, const Task& task,
              std::vector<Result> server_state::*into) {
  auto& st = self->state;
  std::vector<model_download> downloads;
  if (st.costs.replay)
    for (uint32_t c : chosen) downloads.push_back(download_for(st, c));
  st.plan = plan_round(*st.w, st.round, st.now, chosen, st.costs, downloads);
  std::vector<const planned_client*> counted;
  st.round_bytes_down = 0;
  for (const auto& p : st.plan.clients) {
    if (p.fate == client_fate::dropped) continue;
    st.round_bytes_down += p.down_bytes;
    st.device_version[p.client] = st.model.replica->version;
    if (p.fate == client_fate::counted) counted.push_back(&p);
  }
  st.pending = counted.size();
  if (counted.empty()) {
    finish_round(self);
    return;
  }
  const int64_t this_round = st.round;
  for (const planned_client* p : counted) {
    Task t = task;
    t.start_time = p->start;
    st.node_bytes += wire_size(to_node(p->client, t)) + st.costs.result_bytes;
    self->request(st.nodes[node_of_client(p->client, node_count(st))], caf::infinite,
                  to_node(p->client, t))
        .then(
            [self, this_round, into, client = p->client, arrival = p->arrival](Result& r) {
              auto& s = self->state;
              if (s.over || s.round != this_round) return;
              if (auto why =
                      result_problem(s, r, client, static_cast<uint64_t>(this_round), arrival)) {
                fail_run(self, *why);
                return;
              }
              (s.*into).push_back(std::move(r));
              if (--s.pending == 0) finish_round(self);
            },
            [self, this_round](caf::error& e) {
              auto& s = self->state;
              if (s.over || s.round != this_round) return;
              if (auto why = refusal(e)) {
                fail_run(self, *why);
                return;
              }
              // A client that vanished simply does not contribute to this round.
              if (--s.pending == 0) finish_round(self);
            });
  }
}

void start_round(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  st.round += 1;
  st.results.clear();
  st.dense.clear();
  const auto chosen = select_online_clients(w, st.round, st.now, selection_size(w.sc));
  const auto r = static_cast<uint64_t>(st.round);
  if (w.sc.train.algorithm != algorithm_kind::baffle) {
    dispatch(self, chosen, make_backprop_task(st, r), &server_state::dense);
  } else {
    dispatch(self, chosen, make_round_task(st, r, r), &server_state::results);
  }
}

// ---------------------------------------------------------------------------------------------
// Async (FedBuff)

void async_advance(self_ptr self);

/// An idle client online at t, drawn uniformly from stream (seed, selection, dispatch number):
/// a few rejection draws, then a draw among the eligible clients if most are busy or offline.
std::optional<uint32_t> pick_idle_client(const server_state& st, sim_time t, uint64_t key) {
  const world& w = *st.w;
  const auto n = static_cast<uint64_t>(w.sc.clients.count);
  const stream_id s{derive_seed(w.sc.seed, purpose::selection, 1), purpose::selection,
                    static_cast<uint32_t>(key)};
  constexpr int tries = 16;
  for (int i = 0; i < tries; ++i) {
    const auto c = static_cast<uint32_t>(uniform_below(s, static_cast<uint64_t>(i), n));
    if (st.busy[c] == 0 && w.online.available(c, t)) return c;
  }
  std::vector<uint32_t> eligible;
  for (uint32_t c = 0; c < n; ++c)
    if (st.busy[c] == 0 && w.online.available(c, t)) eligible.push_back(c);
  if (eligible.empty()) return std::nullopt;
  return eligible[uniform_below(s, tries, eligible.size())];
}

bool queue_later(const std::tuple<sim_time, uint32_t, uint64_t>& a,
                 const std::tuple<sim_time, uint32_t, uint64_t>& b) {
  return a > b;  // std::push_heap keeps the largest on top; this makes it the earliest
}

/// Fills one free slot at st.now: picks a client, plans its dispatch on the current model.
/// Returns false when no idle client is online (the slot stays free until the next event).
bool async_dispatch_one(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  const auto picked = pick_idle_client(st, st.now, st.seq + 1);
  if (!picked) return false;
  const uint32_t c = *picked;
  async_entry e;
  e.seq = ++st.seq;
  e.client = c;
  e.version = st.model.replica->version;
  e.dispatch = st.now;
  const model_download download = download_for(st, c);
  e.start = planned_start(w, c, st.now, st.costs, download);
  e.arrival = planned_arrival(w, c, static_cast<int64_t>(e.seq), st.now, st.costs, download);
  // A client that vanishes, or goes offline before its result arrives, is dropped; the server
  // gives up on it (and frees its slot) when its result would have arrived.
  e.dropped = drops_out(w.failures, w.sc.seed, c, e.seq) || w.online.next_change(c, st.now) <= e.arrival;
  st.busy[c] = 1;
  st.interval.selected += 1;
  st.clients_seen[c].selected += 1;
  using k = event_record::kind;
  const auto r = st.interval.round;
  if (e.dropped) {
    st.interval_events.push_back({st.now, r, k::dropout, c, fmt::format("seq={}", e.seq)});
  } else {
    e.down_bytes = download_bytes(st.costs, download);
    st.interval.bytes_down += e.down_bytes;
    st.device_version[c] = st.model.replica->version;
    st.interval_events.push_back(
        {st.now, r, k::dispatch, c, fmt::format("seq={} version={}", e.seq, e.version)});
  }
  st.queue.emplace_back(e.arrival, c, e.seq);
  std::push_heap(st.queue.begin(), st.queue.end(), queue_later);
  st.entries.emplace(e.seq, std::move(e));
  return true;
}

/// Fills every free slot it can at st.now.
void async_refill(self_ptr self, int freed) {
  auto& st = self->state;
  int want = freed + st.starved;
  st.starved = 0;
  while (want > 0 && async_dispatch_one(self)) --want;
  st.starved = want;
}

/// The server's step from the buffered results, then the report, then the next events.
void async_aggregate(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  std::vector<async_entry*> buf;
  for (uint64_t s : st.buffer) {
    auto& e = st.entries.at(s);
    if (!e.failed) buf.push_back(&e);
  }
  // Deterministic order: by model version, client, dispatch.
  std::sort(buf.begin(), buf.end(), [](const async_entry* a, const async_entry* b) {
    return std::tie(a->version, a->client, a->seq) < std::tie(b->version, b->client, b->seq);
  });
  round_record& rec = st.interval;
  const uint64_t version = st.model.replica->version;
  std::vector<uint32_t> samples;
  std::vector<double> factor;
  double loss_weighted = 0.0, total = 0.0, stale_sum = 0.0;
  for (const async_entry* e : buf) {
    const bool dense = w.sc.train.algorithm != algorithm_kind::baffle;
    const uint32_t n = dense ? e->dense.samples : e->result.samples;
    const auto tau = static_cast<int64_t>(version - e->version);
    samples.push_back(n);
    factor.push_back(staleness_weight(w.sc.server, tau));
    loss_weighted += static_cast<double>(n) * (dense ? e->dense.base_loss : e->result.base_loss);
    total += n;
    stale_sum += static_cast<double>(tau);
    rec.stale_max = std::max(rec.stale_max, tau);
    rec.forward_passes += dense ? e->dense.forward_passes : e->result.forward_passes;
    client_record& c = st.clients_seen[e->client];
    c.participated += 1;
    c.staleness_sum += tau;
  }
  rec.participants = static_cast<int>(buf.size());
  rec.stale_mean = buf.empty() ? 0.0 : stale_sum / static_cast<double>(buf.size());
  rec.train_loss = total > 0 ? loss_weighted / total : 0.0;
  const auto weights = result_weights(samples, factor);
  if (buf.empty()) {
    // Every buffered client failed: nothing to apply.
  } else if (w.sc.train.algorithm != algorithm_kind::baffle) {
    std::vector<const dense_result*> rs;
    for (const async_entry* e : buf) rs.push_back(&e->dense);
    apply_baseline_update(self, w, rs, weights, rec.round);
  } else {
    // One group per perturbation seed: shared seeds give one per model version in the buffer.
    const int k = w.sc.baffle.k;
    const double scale = 1.0 / (static_cast<double>(k) * w.sc.baffle.sigma);
    std::vector<uint64_t> seeds;
    std::vector<double> coefficients;
    for (size_t i = 0; i < buf.size(); ++i) {
      const async_entry& e = *buf[i];
      const uint64_t seed = client_perturbation_seed(
          round_seed(w.sc.seed, static_cast<int64_t>(e.version + 1)), w.seeds, e.client);
      if (seeds.empty() || seeds.back() != seed || w.seeds == seed_mode::per_client) {
        seeds.push_back(seed);
        coefficients.resize(coefficients.size() + static_cast<size_t>(k), 0.0);
      }
      double* c = coefficients.data() + coefficients.size() - static_cast<size_t>(k);
      for (int j = 0; j < k; ++j) c[j] += weights[i] * static_cast<double>(e.result.scalars[j]) * scale;
    }
    apply_baffle_update(self, w, seeds, coefficients, rec.round);
  }
  st.interval_events.push_back(
      {st.now, rec.round, event_record::kind::aggregate, -1,
       fmt::format("participants={} stale_max={}", rec.participants, rec.stale_max)});
  for (uint64_t s : st.buffer) st.entries.erase(s);
  st.buffer.clear();
  round_record done = std::move(st.interval);
  auto events = std::move(st.interval_events);
  st.interval = round_record{};
  st.interval.round = done.round + 1;
  st.interval_events.clear();
  if (complete_update(self, done, std::move(events))) return;
  async_refill(self, 1);  // the slot of the arrival that filled the buffer, on the new model
  if (!checkpoint_or_stop(self, done.round)) async_advance(self);
}

/// Sends one async dispatch's task to its client; the reply is stored in the entry's `into` and
/// the last reply of the batch starts the aggregation.
template <class Task, class Result>
void request_compute(self_ptr self, const async_entry& e, const Task& task,
                     Result async_entry::*into) {
  const uint64_t seq = e.seq;
  const auto done = [self, seq](bool ok) {
    auto& s = self->state;
    if (s.over) return;
    auto& entry = s.entries.at(seq);
    entry.computed = ok;
    entry.failed = !ok;  // a client that does not answer contributes nothing
    if (--s.pending == 0) async_aggregate(self);
  };
  self->state.node_bytes += wire_size(to_node(e.client, task)) + self->state.costs.result_bytes;
  self->request(self->state.nodes[node_of_client(e.client, node_count(self->state))], caf::infinite,
                to_node(e.client, task))
      .then(
          [self, seq, into, done, client = e.client, arrival = e.arrival](Result& r) {
            auto& s = self->state;
            if (s.over) return;
            if (auto why = result_problem(s, r, client, seq, arrival)) {
              fail_run(self, *why);
              return;
            }
            s.entries.at(seq).*into = std::move(r);
            done(true);
          },
          [self, done](caf::error& e) {
            if (auto why = refusal(e)) {
              fail_run(self, *why);
              return;
            }
            done(false);
          });
}

/// Computes every dispatch made on the current model that is not computed yet (the replica is
/// about to change), in parallel across the client actors, then aggregates.
void async_compute_then_aggregate(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  std::vector<async_entry*> todo;
  for (auto& [seq, e] : st.entries)
    if (!e.dropped && !e.computed && e.version == st.model.replica->version) todo.push_back(&e);
  st.pending = todo.size();
  if (todo.empty()) {
    async_aggregate(self);
    return;
  }
  for (async_entry* e : todo) {
    if (w.sc.train.algorithm != algorithm_kind::baffle) {
      backprop_task t = make_backprop_task(st, e->seq);
      t.start_time = e->start;
      request_compute(self, *e, t, &async_entry::dense);
    } else {
      round_task t = make_round_task(st, e->seq, st.model.replica->version + 1);
      t.start_time = e->start;
      request_compute(self, *e, t, &async_entry::result);
    }
  }
}

/// Processes arrivals in virtual-time order (ties by client, then dispatch) until `buffer`
/// results are in; every arrival frees its slot for a new dispatch at that time.
void async_advance(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  using k = event_record::kind;
  while (true) {
    if (st.queue.empty()) {
      // Every slot is free and no client was online to fill them: wait for the first idle client
      // to come online.
      sim_time next = availability::never;
      for (uint32_t c = 0; c < static_cast<uint32_t>(w.sc.clients.count); ++c)
        if (st.busy[c] == 0) next = std::min(next, w.online.next_change(c, st.now));
      if (next == availability::never) {
        st.totals.error = fmt::format(
            "async: no client is online at {:.3f} s or later, so the run cannot reach {} updates "
            "(stopped after {}); check the availability trace",
            st.now.seconds(), w.sc.train.rounds, st.interval.round - 1);
        finish_run(self);
        return;
      }
      st.now = next;
      async_refill(self, 0);
      continue;
    }
    std::pop_heap(st.queue.begin(), st.queue.end(), queue_later);
    const uint64_t seq = std::get<2>(st.queue.back());
    st.queue.pop_back();
    async_entry& e = st.entries.at(seq);
    st.now = e.arrival;
    st.busy[e.client] = 0;
    client_record& c = st.clients_seen[e.client];
    const auto r = st.interval.round;
    if (e.dropped) {
      st.interval.dropped += 1;
      c.dropped += 1;
      st.entries.erase(seq);
      // A fleet whose every dispatch drops (say, clients online only for windows shorter than a
      // round trip) would loop forever without an update: stop with a reason instead.
      const int64_t limit = std::max<int64_t>(10000, 100 * int64_t{w.sc.server.concurrency});
      if (++st.drops_in_a_row >= limit) {
        st.totals.error = fmt::format(
            "async: {} dispatches in a row dropped out (dropout or going offline before their "
            "result arrived) by {:.3f} s, after {} updates; no result can arrive - check "
            "clients.dropout and the availability trace",
            st.drops_in_a_row, st.now.seconds(), st.interval.round - 1);
        finish_run(self);
        return;
      }
    } else {
      st.drops_in_a_row = 0;
      const auto tau = static_cast<int64_t>(st.model.replica->version - e.version);
      const sim_time link = transfer_time(w.downlink[e.client], e.down_bytes) +
                            transfer_time(w.uplink[e.client], st.costs.result_bytes);
      c.link_time += link;
      c.compute_time += (e.arrival - e.dispatch) - link;
      st.interval.bytes_up += st.costs.result_bytes;
      if (w.sc.server.max_staleness > 0 && tau > w.sc.server.max_staleness) {
        st.interval.late += 1;
        st.interval.wasted_forward_passes += st.costs.forward_passes;
        c.late += 1;
        st.interval_events.push_back(
            {st.now, r, k::late, e.client, fmt::format("seq={} staleness={}", seq, tau)});
        st.entries.erase(seq);
      } else {
        st.interval_events.push_back(
            {st.now, r, k::arrive, e.client, fmt::format("seq={} staleness={}", seq, tau)});
        st.buffer.push_back(seq);
        if (static_cast<int>(st.buffer.size()) >= w.sc.server.buffer) {
          async_compute_then_aggregate(self);
          return;
        }
      }
    }
    async_refill(self, 1);
  }
}

void start_async(self_ptr self) {
  auto& st = self->state;
  st.busy.assign(static_cast<size_t>(st.w->sc.clients.count), 0);
  st.interval = round_record{};
  st.interval.round = 1;
  async_refill(self, st.w->sc.server.concurrency);
  async_advance(self);
}

}  // namespace

server_actor::behavior_type server_behavior(server_actor::stateful_pointer<server_state> self,
                                            std::shared_ptr<const world> w, model_state model,
                                            std::vector<node_actor> nodes, metrics_sink* sink,
                                            tbb::task_arena* arena, workspace_pool* pool,
                                            run_control control) {
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
