// The server's shared steps, used by its two policy drivers (round_driver.cpp: sync, deadline,
// first-m; fedbuff_driver.cpp: async) and by the behaviour in server.cpp: ending the run,
// checking results, applying and broadcasting updates, building tasks, reporting updates.
// Internal to the server's files.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "actors/server.hpp"

namespace baffle::server_detail {

using self_ptr = server_actor::stateful_pointer<server_state>;

// --- the run ---

/// Ends the run: on success the nodes' replicas must match the server's model first.
void finish_run(self_ptr self);
/// Ends the run with an error (the message says what went wrong and where).
void fail_run(self_ptr self, std::string why);
/// A client's or node's refusal of a message (it names the reason), as opposed to a vanished actor.
std::optional<std::string> refusal(const caf::error& e);
/// Evaluates when due, updates the totals, reports the update; returns whether the run is over.
bool complete_update(self_ptr self, round_record& rec, std::vector<event_record> events);
/// Writes a checkpoint when one is due or a stop was requested; on a stop, ends the run.
bool checkpoint_or_stop(self_ptr self, int64_t round);

// --- the model ---

/// weight_i = n_i s_i / sum_j n_j (s_i: the staleness factors, 1 under the round policies).
std::vector<double> result_weights(const std::vector<uint32_t>& samples,
                                   const std::vector<double>& staleness_factor);
/// The baselines' step from dense results and their weights, applied and sent to every node.
void apply_baseline_update(self_ptr self, const world& w,
                           const std::vector<const dense_result*>& rs,
                           const std::vector<double>& weights, int64_t step);
/// BAFFLE's step from (seed, K coefficients) groups, applied, recorded for replay, broadcast.
void apply_baffle_update(self_ptr self, const world& w, std::vector<uint64_t> seeds,
                         std::vector<double> coefficients, int64_t step);

// --- tasks ---

/// How client c gets the current model (weights, or replaying what it missed).
model_download download_for(const server_state& st, uint32_t c);
round_costs make_costs(const server_state& st);
round_task make_round_task(const server_state& st, uint64_t round, uint64_t seed_round);
backprop_task make_backprop_task(const server_state& st, uint64_t round);

inline uint32_t node_count(const server_state& st) {
  return static_cast<uint32_t>(st.nodes.size());
}
inline node_round_task to_node(uint32_t client, const round_task& t) {
  return {client, t};
}
inline node_backprop_task to_node(uint32_t client, const backprop_task& t) {
  return {client, t};
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

// --- the drivers ---

/// Round policies (round_driver.cpp): starts the next round.
void start_round(self_ptr self);
/// Async (fedbuff_driver.cpp): fills every slot at time 0 and runs; or continues after a resume.
void start_async(self_ptr self);
void async_advance(self_ptr self);
/// After a resume: sends again the tasks of the dispatches on the current model (a checkpoint
/// keeps no result of those); fails the run if an older dispatch has no result.
void resend_unsettled(self_ptr self);

}  // namespace baffle::server_detail
