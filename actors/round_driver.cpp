// The round policies (sync, deadline, first-m): each round selects clients, plans who is counted
// before anything is computed (round_plan.hpp), sends the counted clients their tasks through
// their nodes, and aggregates the results in client-id order into one update.
#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "actors/algorithm.hpp"
#include "actors/checkpoint.hpp"

namespace baffle::server_detail {
namespace {

void start_round(self_ptr self);

void finish_round(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  std::sort(st.results.begin(), st.results.end(), [](const any_result& a, const any_result& b) {
    return head_of(a).client < head_of(b).client;
  });

  round_record rec;
  rec.round = st.round;
  rec.participants = static_cast<int>(st.results.size());
  rec.selected = static_cast<int>(st.plan.clients.size());
  rec.dropped = st.plan.dropped;
  rec.late = st.plan.late;
  // The policy fixed the round's end before it started; results confirm their arrival times.
  const sim_time end = st.plan.end;
  double loss_weighted = 0.0, samples = 0.0;
  for (const any_result& result : st.results) {
    // Every result of a round has the size the link model charged (K scalars, or the model's
    // values): serializing each one again only to measure it cost ~0.7 ms a round of 1,000.
    const result_head r = head_of(result);
    rec.bytes_up += st.costs.result_bytes;
    rec.forward_passes += r.forward_passes;
    loss_weighted += static_cast<double>(r.samples) * r.base_loss;
    samples += r.samples;
  }
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

  if (!st.results.empty()) {
    std::vector<contribution> in;
    for (const any_result& r : st.results)
      in.push_back({&r, static_cast<uint64_t>(st.round), 1.0, st.model.replica->version});
    st.algorithm->step(self, in, st.round);
  }
  st.now = end;
  if (complete_update(self, rec, round_events(st.plan, st.round, round_start, rec.participants)))
    return;
  if (!checkpoint_or_stop(self, st.round)) start_round(self);
}

/// Plans the round under the policy, charges the downlink and sends each counted client its
/// task; finishes the round when the last reply (or failure) is in (replies of other rounds are
/// ignored). Only counted clients receive their task: a dropped client vanishes, and a late
/// client's work would be discarded (it is charged as wasted forward passes instead).
void dispatch(self_ptr self, const std::vector<uint32_t>& chosen) {
  auto& st = self->state;
  std::vector<model_download> downloads;
  if (st.costs.replay)
    for (uint32_t c : chosen) downloads.push_back(download_for(st, c));
  st.plan = plan_round(*st.w, st.round, st.now, chosen, st.costs, downloads);
  std::vector<const planned_client*> counted;
  st.round_bytes_down = 0;
  st.round_downloads.clear();
  for (const auto& p : st.plan.clients) {
    if (p.fate == client_fate::dropped) continue;
    st.round_bytes_down += p.down_bytes;
    st.round_downloads.emplace_back(p.client, st.device_version[p.client],
                                    st.device_state[p.client]);
    note_download(st, p.client, st.costs.replay ? download_for(st, p.client) : model_download{});
    if (p.fate == client_fate::counted) counted.push_back(&p);
  }
  st.pending = counted.size();
  if (counted.empty()) {
    finish_round(self);
    return;
  }
  const int64_t this_round = st.round;
  const auto r = static_cast<uint64_t>(this_round);
  for (const planned_client* p : counted) {
    st.algorithm->send(
        self, p->client, r, r, p->start,
        [self, this_round, client = p->client,
         arrival = p->arrival](caf::expected<any_result> reply) -> std::optional<std::string> {
          auto& s = self->state;
          if (s.over || s.round != this_round) return std::nullopt;
          if (!reply) {
            fail_run(self, refusal(reply.error()).value_or(lost_task(client, reply.error())));
            return std::nullopt;
          }
          if (auto why =
                  result_problem(s, *reply, client, static_cast<uint64_t>(this_round), arrival))
            return why;
          s.results.push_back(std::move(*reply));
          if (--s.pending == 0) finish_round(self);
          return std::nullopt;
        });
  }
}

void start_round(self_ptr self) {
  auto& st = self->state;
  st.round += 1;
  st.results.clear();
  dispatch(self, select_online_clients(*st.w, st.round, st.now, selection_size(st.w->sc)));
}

/// The state after the last finished round, while the round in flight waits for results: the
/// round's downloads undone (nothing else of it is in the state before it finishes).
std::string state_before_round(self_ptr self, int64_t& round) {
  auto& st = self->state;
  for (auto it = st.round_downloads.rbegin(); it != st.round_downloads.rend(); ++it) {
    const auto& [client, version, state] = *it;
    st.device_version[client] = version;
    st.device_state[client] = state;
  }
  st.round_downloads.clear();
  st.round -= 1;
  round = st.round;
  return save_server_state(st);
}

}  // namespace

policy_driver round_policy_driver() {
  return {start_round, start_round, state_before_round};
}

}  // namespace baffle::server_detail
