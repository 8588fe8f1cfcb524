// The server actor. Round policies (sync, deadline, first-m): each round it selects clients,
// plans who is counted, sends the tasks, aggregates the results in client-id order, rebuilds the
// gradient from the seeds and updates the model. Async (FedBuff): `concurrency` clients always in
// flight, every `buffer` arrivals one staleness-weighted update, events in virtual-time order.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/model_state.hpp"
#include "actors/protocol.hpp"
#include "actors/round_plan.hpp"
#include "actors/world.hpp"

namespace baffle {

/// One async dispatch, from when the server sends it until its result is aggregated or given up.
struct async_entry {
  uint64_t seq = 0;  ///< dispatch number, 1-based; the task's `round`
  uint32_t client = 0;
  uint64_t version = 0;  ///< the model version it computes on
  sim_time dispatch;
  sim_time start;    ///< the task and the model are on the device
  sim_time arrival;  ///< its result reaches the server (or, if dropped, the server gives up)
  uint64_t down_bytes = 0;
  bool dropped = false;
  bool computed = false;
  bool failed = false;  ///< the client actor did not answer
  round_result result;  ///< BAFFLE
  dense_result dense;   ///< backprop baselines
};

/// How the caller steers a run from outside the simulation.
struct run_control {
  /// Polled after every round (async: update); true makes the server write a checkpoint and stop.
  std::function<bool()> stop_requested;
  /// save_server_state bytes of a checkpoint to continue from; empty: start from round 1.
  std::string resume_state;
  /// Sees every update the server applies, in order (what replicas must apply to follow it).
  std::function<void(const model_update&)> on_update;
  std::function<void(const dense_update&)> on_dense_update;
  /// Compare every node's replica digest with the server's every N versions (0: only at the end).
  int verify_every = 0;
};

struct server_state {
  std::shared_ptr<const world> w;
  run_control control;
  model_state model;  ///< the server's own model: weights, version, optimizer, EMA
  std::vector<node_actor> nodes;  ///< client c lives on node node_of_client(c, nodes.size())
  metrics_sink* sink = nullptr;
  tbb::task_arena* arena = nullptr;
  workspace_pool* pool = nullptr;

  sim_time now;
  int64_t round = 0;  ///< the round in flight (1-based), 0 before the first
  std::vector<round_result> results;
  std::vector<dense_result> dense;  ///< backprop baselines' results
  round_plan plan;                  ///< the round in flight: who is counted, when it ends
  round_costs costs;
  size_t pending = 0;
  uint64_t round_bytes_down = 0;  ///< bytes of the round's tasks
  run_outcome totals;
  uint64_t node_bytes = 0;  ///< exchanged with the nodes since the last round record
  bool over = false;  ///< the outcome is delivered (finished, stopped or failed): ignore replies
  caf::typed_response_promise<run_outcome> promise;
  std::vector<client_record> clients_seen;  ///< per client, for clients.csv

  // download = "replay": the model version each client's device holds, and the size and replay
  // work of every update so far as prefix sums (index v: updates 1..v).
  std::vector<uint64_t> device_version;
  std::vector<uint64_t> update_bytes_prefix{0};
  std::vector<double> update_flops_prefix{0.0};

  // The async policy.
  std::map<uint64_t, async_entry> entries;  ///< by seq, until aggregated or given up
  /// Min-heap of (arrival, client, seq): the next event is always the earliest arrival.
  std::vector<std::tuple<sim_time, uint32_t, uint64_t>> queue;
  std::vector<uint8_t> busy;    ///< per client: in flight
  std::vector<uint64_t> buffer;  ///< seqs of results awaiting aggregation
  uint64_t seq = 0;              ///< dispatches so far
  int starved = 0;               ///< free slots no idle online client could fill
  int64_t drops_in_a_row = 0;    ///< dispatches dropped since the last result arrived
  round_record interval;         ///< the update in progress
  std::vector<event_record> interval_events;
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
                                            std::shared_ptr<const world> w, model_state model,
                                            std::vector<node_actor> nodes, metrics_sink* sink,
                                            tbb::task_arena* arena, workspace_pool* pool,
                                            run_control control = {});

}  // namespace baffle
