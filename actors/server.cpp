// Server behaviour (sync policy) over pure aggregation helpers.
#include "actors/server.hpp"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

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

void finish_run(self_ptr self) {
  auto& st = self->state;
  if (st.sink) st.sink->on_clients(st.clients_seen);
  st.totals.model_digest = params_digest(st.replica->view());
  st.promise.deliver(st.totals);
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

/// The backprop baselines' server step, from dense results sorted by client id.
/// fedsgd: the sample-weighted mean gradient goes through clipping and the server optimizer.
/// fedavg: the new model is the sample-weighted mean of the clients' weights (server lr 1).
void apply_baseline_update(server_state& st, const world& w) {
  const size_t n = st.replica->params.size();
  double total = 0.0;
  for (const auto& r : st.dense) total += r.samples;
  std::vector<double> mean(n, 0.0);
  for (const auto& r : st.dense) {
    const double weight = r.samples / total;
    for (size_t i = 0; i < n; ++i) mean[i] += weight * static_cast<double>(r.values[i]);
  }
  if (w.sc.train.algorithm == "fedavg") {
    for (size_t i = 0; i < n; ++i) st.replica->params[i] = static_cast<float>(mean[i]);
  } else {
    st.grad.assign(mean.begin(), mean.end());
    clip_inf(st.grad, w.sc.train.clip_inf);
    optimizer_config cfg = w.optimizer;
    cfg.lr = lr_at_round(w.schedule, st.round);
    optimizer_step(cfg, st.opt, st.replica->view(), st.grad);
  }
  if (w.sc.train.ema_decay > 0.0) ema_update(st.ema, st.replica->view(), w.sc.train.ema_decay);
  st.replica->version += 1;
}

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
    const uint64_t up = wire_size(r);
    assert(r.finish_time + transfer_time(w.uplink[r.client], up) <= end);
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
    const sim_time compute =
        compute_time(device_in_round(w, p.client, static_cast<uint64_t>(st.round)),
                     client_flops(w, p.client, st.costs));
    c.compute_time += compute;
    c.link_time += (p.arrival - st.now) - compute;
  }
  // Late clients did their work and sent their results; the server discarded them.
  rec.bytes_up += static_cast<uint64_t>(st.plan.late) * st.costs.result_bytes;
  rec.wasted_forward_passes = static_cast<int64_t>(st.plan.late) * st.costs.forward_passes;
  rec.bytes_down = st.round_bytes_down;
  rec.train_loss = samples > 0 ? loss_weighted / samples : 0.0;

  if (!st.dense.empty()) {
    apply_baseline_update(st, w);
  } else if (!st.results.empty()) {
    perturbation_plan plan;
    plan.round_seed = round_seed(w.sc.seed, st.round);
    plan.k = w.sc.baffle.k;
    plan.sigma = static_cast<float>(w.sc.baffle.sigma);
    st.grad.resize(st.replica->params.size());
    if (w.seeds == seed_mode::shared) {
      baffle_reconstruct(aggregate_scalars(st.results, plan.k), plan, st.grad, *st.arena);
    } else {
      const auto [streams, coeffs] = per_client_terms(st.results, plan);
      reconstruct_from_streams(streams, coeffs, st.grad, *st.arena);
    }
    clip_inf(st.grad, w.sc.train.clip_inf);
    optimizer_config cfg = w.optimizer;
    cfg.lr = lr_at_round(w.schedule, st.round);
    optimizer_step(cfg, st.opt, st.replica->view(), st.grad);
    if (w.sc.train.ema_decay > 0.0) ema_update(st.ema, st.replica->view(), w.sc.train.ema_decay);
    st.replica->version += 1;
  }
  st.now = end;
  rec.end_time = end;

  const bool last = st.round >= w.sc.train.rounds;
  if (last || st.round % w.sc.train.eval_every == 0) {
    // With an EMA the evaluated model is the average, as in the reference code.
    const std::span<const float> eval_params =
        st.ema.empty() ? st.replica->view() : std::span<const float>(st.ema);
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

  st.totals.rounds = st.round;
  st.totals.sim_time_s = st.now.seconds();
  st.totals.bytes_up_total += rec.bytes_up;
  st.totals.forward_passes_total += rec.forward_passes;
  if (st.sink) {
    st.sink->on_round(rec);
    st.sink->on_events(round_events(st.plan, st.round, round_start, rec.participants));
  }
  if (last) {
    finish_run(self);
  } else {
    start_round(self);
  }
}

/// Plans the round under the policy, charges the downlink and sends `task` to every counted
/// client, collecting replies into `into` (results of other rounds are ignored); finishes the round
/// when the last reply (or failure) is in. Dropped clients never receive the task; late ones do,
/// and compute for nothing.
template <class Task, class Result>
void dispatch(self_ptr self, const std::vector<uint32_t>& chosen, const Task& task,
              const round_costs& costs, std::vector<Result> server_state::*into) {
  auto& st = self->state;
  st.costs = costs;
  st.plan = plan_round(*st.w, st.round, st.now, chosen, costs);
  std::vector<uint32_t> counted;
  for (const auto& p : st.plan.clients)
    if (p.fate == client_fate::counted) counted.push_back(p.client);
  st.round_bytes_down = costs.task_bytes * static_cast<uint64_t>(st.plan.counted + st.plan.late);
  st.totals.bytes_down_total += st.round_bytes_down;
  st.pending = counted.size();
  if (counted.empty()) {
    finish_round(self);
    return;
  }
  const int64_t this_round = st.round;
  for (uint32_t c : counted) {
    self->request(st.clients[c], caf::infinite, task)
        .then(
            [self, this_round, into](Result& r) {
              auto& s = self->state;
              if (static_cast<int64_t>(r.round) != this_round) return;
              (s.*into).push_back(std::move(r));
              if (--s.pending == 0) finish_round(self);
            },
            [self, this_round](caf::error&) {
              // A client that fails to answer simply does not contribute to this round.
              auto& s = self->state;
              if (s.round != this_round) return;
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
  round_costs costs;
  costs.batch_size = w.sc.train.batch_size;
  if (w.sc.train.algorithm != "baffle") {
    backprop_task task;
    task.round = static_cast<uint64_t>(st.round);
    task.model_version = st.replica->version;
    task.kind = w.sc.train.algorithm == "fedavg" ? baseline::fedavg : baseline::fedsgd;
    task.batch_size = static_cast<uint32_t>(w.sc.train.batch_size);
    task.local_steps = static_cast<uint32_t>(baseline_steps(w));
    task.local_lr = static_cast<float>(w.sc.train.local_lr);
    task.dispatch_time = st.now;
    // The task travels with the model's weights: every client needs them to compute.
    costs.task_bytes = wire_size(task) + w.model_bytes;
    costs.result_bytes = w.dense_result_bytes;
    costs.forward_passes = task.local_steps;
    costs.flops_factor = backprop_flops_factor;
    dispatch(self, chosen, task, costs, &server_state::dense);
    return;
  }
  round_task task;
  task.round = static_cast<uint64_t>(st.round);
  task.model_version = st.replica->version;
  task.round_seed = round_seed(w.sc.seed, st.round);
  task.k = static_cast<uint32_t>(w.sc.baffle.k);
  task.sigma = static_cast<float>(w.sc.baffle.sigma);
  task.scheme = w.scheme;
  task.seeds = w.seeds;
  task.batch_size = static_cast<uint32_t>(w.sc.train.batch_size);
  task.dispatch_time = st.now;
  round_result sized;  // a result of this round's size, for the link model
  sized.scalars.resize(task.k);
  costs.task_bytes = wire_size(task);
  costs.result_bytes = wire_size(sized);
  costs.forward_passes = forward_passes_per_round(static_cast<int>(task.k), task.scheme);
  dispatch(self, chosen, task, costs, &server_state::results);
}

}  // namespace

server_actor::behavior_type server_behavior(server_actor::stateful_pointer<server_state> self,
                                            std::shared_ptr<const world> w,
                                            std::shared_ptr<model_replica> replica,
                                            std::vector<client_actor> clients, metrics_sink* sink,
                                            tbb::task_arena* arena, workspace_pool* pool) {
  auto& st = self->state;
  st.w = std::move(w);
  st.replica = std::move(replica);
  st.clients = std::move(clients);
  st.sink = sink;
  const world& wr = *st.w;
  const auto histograms = label_histograms(wr.data.train, wr.parts);
  st.clients_seen.resize(wr.parts.clients.size());
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
        start_round(self);
        return s.promise;
      },
  };
}

}  // namespace baffle
