// Server policies (sync, deadline, first-m) as a pure function of the world and the round, and
// the async policy's staleness weights.
#include "actors/round_plan.hpp"

#include <algorithm>
#include <cmath>

namespace baffle {

double client_flops(const world& w, uint32_t client, const round_costs& cost) {
  const auto shard = static_cast<int64_t>(w.parts.clients[client].size());
  const int batch = static_cast<int>(std::min<int64_t>(cost.batch_size, shard));
  return static_cast<double>(cost.forward_passes) * cost.flops_factor * w.net->forward_flops(batch);
}

sim_time planned_start(const world& w, uint32_t client, sim_time dispatch, const round_costs& cost,
                       const model_download& download) {
  // Replay work runs at the device's base speed (no per-round jitter: it happens before the round's
  // forward passes and is not part of them).
  sim_time t = dispatch + transfer_time(w.downlink[client], download_bytes(cost, download));
  if (download.replay && download.flops > 0) t += compute_time(w.devices[client], download.flops);
  return t;
}

sim_time planned_arrival(const world& w, uint32_t client, int64_t round, sim_time start,
                         const round_costs& cost, const model_download& download) {
  return compute_finish(w, client, static_cast<uint64_t>(round),
                        planned_start(w, client, start, cost, download),
                        client_flops(w, client, cost)) +
         transfer_time(w.uplink[client], cost.result_bytes);
}

sim_time compute_finish(const world& w, uint32_t client, uint64_t round, sim_time start,
                        double flops) {
  return start + compute_time(device_in_round(w, client, round), flops);
}

double staleness_weight(const server_config& server, int64_t staleness) {
  const double tau = static_cast<double>(std::max<int64_t>(staleness, 0));
  const double a = server.staleness_exponent;
  switch (server.staleness) {
    case staleness_kind::constant:
      return 1.0;
    case staleness_kind::poly:
      return std::pow(1.0 + tau, -a);
    case staleness_kind::hinge: {
      const double b = server.staleness_hinge;
      return tau <= b ? 1.0 : 1.0 / (a * (tau - b) + 1.0);
    }
  }
  return 1.0;
}

int selection_size(const scenario& sc) {
  switch (sc.server.policy) {
    case policy_kind::first_m: {
      const double n = std::ceil(sc.clients.per_round * sc.server.over_select - 1e-9);
      return std::min(sc.clients.count, static_cast<int>(n));
    }
    case policy_kind::sync:
    case policy_kind::deadline:
    case policy_kind::async:
      break;
  }
  return sc.clients.per_round;
}

round_plan plan_round(const world& w, int64_t round, sim_time start,
                      const std::vector<uint32_t>& selected, const round_costs& cost,
                      const std::vector<model_download>& downloads) {
  const scenario& sc = w.sc;
  round_plan plan;
  std::vector<planned_client*> alive;
  plan.clients.reserve(selected.size());
  for (size_t i = 0; i < selected.size(); ++i) {
    const uint32_t c = selected[i];
    const model_download download = i < downloads.size() ? downloads[i] : model_download{};
    planned_client p;
    p.client = c;
    p.down_bytes = download_bytes(cost, download);
    p.start = planned_start(w, c, start, cost, download);
    p.arrival = planned_arrival(w, c, round, start, cost, download);
    // A client that vanishes (dropout) or goes offline before its result arrives is dropped.
    if (drops_out(w.failures, sc.seed, c, static_cast<uint64_t>(round)) ||
        w.online.next_change(c, start) <= p.arrival) {
      p.fate = client_fate::dropped;
    }
    plan.clients.push_back(p);
  }
  for (auto& p : plan.clients)
    if (p.fate != client_fate::dropped) alive.push_back(&p);

  switch (sc.server.policy) {
    case policy_kind::deadline: {
      const sim_time close = start + sc.server.deadline;
      bool all_in = true;
      sim_time last = start;
      for (auto* p : alive) {
        if (p->arrival <= close) {
          last = std::max(last, p->arrival);
        } else {
          p->fate = client_fate::late;
          all_in = false;
        }
      }
      // The server can close early only when every client it waits for has arrived.
      plan.end = all_in && !alive.empty() ? last : close;
      break;
    }
    case policy_kind::first_m:
      // Ties in virtual time break by client id, as everywhere.
      std::stable_sort(
          alive.begin(), alive.end(),
          [](const planned_client* a, const planned_client* b) { return a->arrival < b->arrival; });
      plan.end = start;
      for (size_t i = 0; i < alive.size(); ++i) {
        if (static_cast<int>(i) < sc.clients.per_round) {
          plan.end = std::max(plan.end, alive[i]->arrival);
        } else {
          alive[i]->fate = client_fate::late;
        }
      }
      break;
    case policy_kind::sync:
    case policy_kind::async:  // a FedBuff dispatch waits for its one client
      plan.end = start;
      for (auto* p : alive) plan.end = std::max(plan.end, p->arrival);
      break;
  }
  for (const auto& p : plan.clients) {
    plan.counted += p.fate == client_fate::counted;
    plan.dropped += p.fate == client_fate::dropped;
    plan.late += p.fate == client_fate::late;
  }
  return plan;
}

}  // namespace baffle
