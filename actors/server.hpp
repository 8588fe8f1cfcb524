// The server actor: each round it selects clients, sends round_task, waits for every result
// (sync policy), aggregates in client-id order, rebuilds the gradient from the seeds, updates
// the model and reports the round. Virtual time advances by the slowest participant.
#pragma once

#include <memory>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/protocol.hpp"
#include "actors/round_plan.hpp"
#include "actors/world.hpp"

namespace baffle {

struct server_state {
  std::shared_ptr<const world> w;
  std::shared_ptr<model_replica> replica;
  std::vector<client_actor> clients;
  metrics_sink* sink = nullptr;
  tbb::task_arena* arena = nullptr;
  workspace_pool* pool = nullptr;

  optimizer_state opt;
  sim_time now;
  int64_t round = 0;  ///< the round in flight (1-based), 0 before the first
  std::vector<round_result> results;
  std::vector<dense_result> dense;  ///< backprop baselines' results
  round_plan plan;                  ///< the round in flight: who is counted, when it ends
  round_costs costs;
  size_t pending = 0;
  uint64_t round_bytes_down = 0;  ///< bytes of the round's tasks
  run_outcome totals;
  caf::typed_response_promise<run_outcome> promise;
  std::vector<float> grad;
  std::vector<client_record> clients_seen;  ///< per client, for clients.csv
  std::vector<float> ema;                   ///< EMA of the weights when train.ema_decay > 0
};

/// The events of a round, from its plan (see events.log in docs/cli.md).
std::vector<event_record> round_events(const round_plan& plan, int64_t round, sim_time start,
                                       int participants);

/// Sample-weighted mean of the clients' scalar vectors, reduced in client-id order (results must
/// be sorted by client id): dbar_k = sum_i n_i d_ik / sum_i n_i.
std::vector<double> aggregate_scalars(const std::vector<round_result>& sorted_results, int k);

/// Per-client seeds: one (stream, coefficient) per client and k, client-id order, with
/// coefficient (n_i / sum n) d_ik / (K sigma).
std::pair<std::vector<stream_id>, std::vector<float>> per_client_terms(
    const std::vector<round_result>& sorted_results, const perturbation_plan& plan);

/// The clients taking part in round r: per_round of count, drawn from stream (seed, selection, r),
/// sorted by id.
std::vector<uint32_t> select_clients(uint64_t seed, int64_t round, int count, int per_round);

/// The seed of round r's perturbations.
uint64_t round_seed(uint64_t seed, int64_t round);

server_actor::behavior_type server_behavior(server_actor::stateful_pointer<server_state> self,
                                            std::shared_ptr<const world> w,
                                            std::shared_ptr<model_replica> replica,
                                            std::vector<client_actor> clients, metrics_sink* sink,
                                            tbb::task_arena* arena, workspace_pool* pool);

}  // namespace baffle
