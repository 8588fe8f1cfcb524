// The server's model beyond its state (actors/model_state.hpp): the weights of results, sending
// every update to the nodes (and comparing their digests), the log of update sizes that replaying
// devices download, and how a client gets the current model.
#include <utility>

#include "actors/node.hpp"
#include "actors/server_steps.hpp"
#include "actors/wire.hpp"

namespace baffle::server_detail {

namespace {

/// Sends an update the server has applied to every node, before any task on the new version (CAF
/// keeps the order between two actors); a node that refuses it stops the run. Every
/// `verify_every` versions the nodes' digests are compared with the server's.
template <class Update>
void send_to_nodes(self_ptr self, const Update& u) {
  auto& st = self->state;
  const std::vector<uint32_t> live = live_nodes(st);
  st.node_bytes += wire_size(u) * live.size();
  for (uint32_t i : live) {
    self->request(st.nodes[i], caf::infinite, u)
        .then([](uint64_t) {},
              [self, i](caf::error& e) { node_failed(self, i, e, "apply an update"); });
  }
  const int every = st.control.verify_every;
  if (every > 0 && u.version % static_cast<uint64_t>(every) == 0) {
    verify_nodes(self, [self] {
      auto& s = self->state;
      if (!s.totals.error.empty() && !s.over) finish_run(self);
    });
  }
}

}  // namespace

void broadcast(self_ptr self, const model_update& u) {
  send_to_nodes(self, u);
}

void broadcast(self_ptr self, const dense_update& u) {
  send_to_nodes(self, u);
}

void broadcast(self_ptr self, const model_snapshot& s) {
  auto& st = self->state;
  const uint64_t before = st.node_bytes;
  send_to_nodes(self, s);
  st.node_bytes = before;
}

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

/// Records the update that produced the current version, for replaying clients.
void record_update(server_state& st, const model_update& u) {
  st.update_bytes_prefix.push_back(st.update_bytes_prefix.back() + wire_size(u));
  const double elements = static_cast<double>(u.coefficients.size()) *
                          static_cast<double>(st.model.replica->params.size());
  st.update_flops_prefix.push_back(st.update_flops_prefix.back() +
                                   elements * replay_flops_per_element);
}

/// How client c gets the current model: the weights, or (replay) the updates it missed since the
/// version its device holds; under "auto", whichever has it computing sooner (ties: weights).
model_download download_for(const server_state& st, uint32_t c) {
  if (!st.costs.replay) return {};
  const uint64_t from = st.device_version[c];
  const uint64_t to = st.model.replica->version;
  model_download replay{st.update_bytes_prefix[to] - st.update_bytes_prefix[from],
                        st.update_flops_prefix[to] - st.update_flops_prefix[from], true};
  // Replaying steps the optimizer, so it needs the optimizer's state at the device's version. A
  // device that got plain weights has none: it takes the weights and the state instead, and can
  // replay from then on.
  if (from != to && st.costs.state_bytes > 0 && st.device_state[c] == 0)
    replay = model_download{st.costs.model_bytes + st.costs.state_bytes, 0.0, true, true};
  const world& w = *st.w;
  // A seed pool bounds the catch-up: the pool's M x K coefficients (one message shaped as an
  // update over all M seeds) and regenerating the M x K directions once, whatever was missed.
  if (from != to && st.model.pool.active()) {
    const pool_model& p = st.model.pool;
    model_update all;
    all.seeds = p.seeds;
    all.coefficients.resize(p.coefficients.size());
    const model_download catch_up{wire_size(all),
                                  static_cast<double>(p.coefficients.size()) *
                                      static_cast<double>(p.initial.size()) *
                                      replay_flops_per_element,
                                  true};
    if (planned_start(w, c, sim_time{}, st.costs, catch_up) <
        planned_start(w, c, sim_time{}, st.costs, replay))
      replay = catch_up;
  }
  if (w.sc.baffle.download == download_mode::replay) return replay;
  const sim_time by_replay = planned_start(w, c, sim_time{}, st.costs, replay);
  const sim_time by_weights = planned_start(w, c, sim_time{}, st.costs, model_download{});
  return by_replay < by_weights ? replay : model_download{};
}

void note_download(server_state& st, uint32_t c, const model_download& d) {
  st.device_version[c] = st.model.replica->version;
  st.device_state[c] = d.replay ? static_cast<uint8_t>(st.device_state[c] != 0 || d.with_state) : 0;
}

std::optional<std::string> result_problem(const server_state& st, const any_result& result,
                                          uint32_t client, uint64_t round, sim_time arrival) {
  const world& w = *st.w;
  std::string why;
  std::visit(
      [&](const auto& r) {
        using type = std::decay_t<decltype(r)>;
        if (r.client != client) {
          why = "answered for client " + std::to_string(r.client);
        } else if (r.round != round) {
          why =
              "answered round " + std::to_string(r.round) + " instead of " + std::to_string(round);
        } else if (r.samples == 0 || r.samples > static_cast<uint32_t>(w.sc.train.batch_size) *
                                                     std::max(1, baseline_steps(w))) {
          why = "reported " + std::to_string(r.samples) + " samples";
        } else if (r.finish_time + transfer_time(w.uplink[client], st.costs.result_bytes) !=
                   arrival) {
          why = fmt::format("finished at {:.9f} s, the plan says its result arrives at {:.9f} s",
                            r.finish_time.seconds(), arrival.seconds());
        } else if constexpr (std::is_same_v<type, round_result>) {
          if (r.scalars.size() != static_cast<size_t>(w.sc.baffle.k))
            why = "sent " + std::to_string(r.scalars.size()) +
                  " scalars for K = " + std::to_string(w.sc.baffle.k);
        } else {
          if (r.values.size() != st.model.replica->params.size())
            why = "sent " + std::to_string(r.values.size()) + " values for a model of " +
                  std::to_string(st.model.replica->params.size());
        }
      },
      result);
  if (why.empty()) {
    // Sizes, ids and finite values, as for any message from another process (actors/wire.hpp).
    if (auto bad = std::visit([&](const auto& r) { return message_problem(r, st.limits); }, result))
      why = *bad;
  }
  if (why.empty()) return std::nullopt;
  return "client " + std::to_string(client) + ": " + why;
}

}  // namespace baffle::server_detail
