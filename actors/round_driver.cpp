// The round policies (sync, deadline, first-m): each round selects clients, plans who is counted
// before anything is computed (round_plan.hpp), sends the counted clients their tasks through
// their nodes, and aggregates the results in client-id order into one update.
#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "actors/node.hpp"
#include "actors/server_steps.hpp"

namespace baffle::server_detail {

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

}  // namespace baffle::server_detail
