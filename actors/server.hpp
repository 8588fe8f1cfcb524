// The server actor. Round policies (sync, deadline, first-m): each round it selects clients,
// plans who is counted, sends the tasks, aggregates the results in client-id order, rebuilds the
// gradient from the seeds and updates the model. Async (FedBuff): `concurrency` clients always in
// flight, every `buffer` arrivals one staleness-weighted update, events in virtual-time order.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "actors/gradient_probe.hpp"
#include "actors/metrics.hpp"
#include "actors/model_state.hpp"
#include "actors/node.hpp"
#include "actors/protocol.hpp"
#include "actors/round_plan.hpp"
#include "actors/wire.hpp"
#include "actors/world.hpp"

namespace baffle {

/// A client's result as the server keeps it, whichever algorithm produced it.
using any_result = std::variant<round_result, dense_result>;

/// What becomes of a task: the client's result, or the error that came instead. Given a result,
/// it returns what is wrong with it (the result is then not taken; see lose_node), or nothing.
using reply_handler = std::function<std::optional<std::string>(caf::expected<any_result>)>;

/// A task sent to a node and not answered yet: if its node is lost, it goes to the client's new
/// node, on the same model version (the result is the same wherever it is computed).
struct task_in_flight {
  uint32_t node = 0;
  std::variant<node_round_task, node_backprop_task> task;
  reply_handler reply;
};

struct server_state;
using server_self = server_actor::stateful_pointer<server_state>;

namespace server_detail {
class server_algorithm;  // actors/algorithm.hpp
}

/// How the server runs its policy (round_driver.cpp, fedbuff_driver.cpp): starting a run, and
/// continuing one from a checkpoint.
struct policy_driver {
  void (*start)(server_self) = nullptr;
  void (*resume)(server_self) = nullptr;
  /// The state to checkpoint while waiting for results (no node is left to compute them): the
  /// last finished round's, from which resume continues as the run would have. Sets `round`.
  std::string (*state_now)(server_self, int64_t& round) = nullptr;
};

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
  any_result result;
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
  /// What the server knows of each node it is given (host, threads); empty: in-process nodes of
  /// capacity 1.
  std::vector<node_record> node_info;
  /// The registry that admits workers mid-run: node_joined is taken from it only.
  caf::actor_addr registry;
};

struct server_state {
  std::shared_ptr<const world> w;
  run_control control;
  model_state model;              ///< the server's own model: weights, version, optimizer, EMA
  std::vector<node_actor> nodes;  ///< by node id; a lost node's handle stays (see fleet)
  std::vector<node_record> fleet;  ///< by node id: host, capacity, joined, left (nodes.csv)
  client_map clients_map;          ///< which live node holds each client (node.hpp)
  std::map<uint64_t, task_in_flight> in_flight;  ///< tasks sent and not answered, by number
  uint64_t tasks_sent = 0;
  /// Round policies: each counted client's device before the round's download (client, version,
  /// state), so the round can be undone into a checkpoint if no node is left to compute it.
  std::vector<std::tuple<uint32_t, uint64_t, uint8_t>> round_downloads;
  std::shared_ptr<const server_detail::server_algorithm> algorithm;  ///< BAFFLE, FedSGD, FedAvg
  policy_driver driver;                                              ///< round policies or FedBuff
  message_limits limits;  ///< what a message from a node may hold (actors/wire.hpp)
  metrics_sink* sink = nullptr;
  tbb::task_arena* arena = nullptr;
  workspace_pool* pool = nullptr;

  sim_time now;
  int64_t round = 0;                ///< the round in flight (1-based), 0 before the first
  std::vector<any_result> results;  ///< the round in flight's
  round_plan plan;                  ///< the round in flight: who is counted, when it ends
  round_costs costs;
  size_t pending = 0;
  uint64_t round_bytes_down = 0;  ///< bytes of the round's tasks
  run_outcome totals;
  uint64_t node_bytes = 0;  ///< exchanged with the nodes since the last round record
  bool started = false;     ///< run_atom was taken
  bool over = false;  ///< the outcome is delivered (finished, stopped or failed): ignore replies
  caf::typed_response_promise<run_outcome> promise;
  std::vector<client_record> clients_seen;  ///< per client, for clients.csv

  // download = "replay": the model version each client's device holds, and the size and replay
  // work of every update so far as prefix sums (index v: updates 1..v).
  std::vector<uint64_t> device_version;
  /// Per client: whether its device holds the optimizer state at its version (so it can replay).
  /// True at version 0 (the initial state is known); false after a plain weights download.
  std::vector<uint8_t> device_state;
  std::vector<uint64_t> update_bytes_prefix{0};
  std::vector<double> update_flops_prefix{0.0};

  // The async policy.
  std::map<uint64_t, async_entry> entries;  ///< by seq, until aggregated or given up
  /// Min-heap of (arrival, client, seq): the next event is always the earliest arrival.
  std::vector<std::tuple<sim_time, uint32_t, uint64_t>> queue;
  std::vector<uint8_t> busy;     ///< per client: in flight
  std::vector<uint64_t> buffer;  ///< seqs of results awaiting aggregation
  uint64_t seq = 0;              ///< dispatches so far
  int starved = 0;               ///< free slots no idle online client could fill
  int64_t drops_in_a_row = 0;    ///< dispatches dropped since the last result arrived
  round_record interval;         ///< the update in progress
  std::vector<event_record> interval_events;

  /// run.measure_gradient_every: what the algorithm's step measured (and keeps to measure).
  gradient_probe probe;
};

/// The events of a round, from its plan (see events.log in docs/cli.md).
std::vector<event_record> round_events(const round_plan& plan, int64_t round, sim_time start,
                                       int participants);

/// One BAFFLE result taken into an update.
struct baffle_term {
  const round_result* result = nullptr;
  uint64_t seed_round = 0;        ///< the round its perturbation seed was drawn for
  double staleness_factor = 1.0;  ///< s_i under FedBuff; 1 under the round policies
};

/// BAFFLE's step as groups of (perturbation seed, K coefficients).
struct seed_groups {
  std::vector<uint64_t> seeds;
  std::vector<double> coefficients;  ///< K per seed, rounded to float as the rebuild uses them
};

/// The one assembly of BAFFLE's step, for every policy: the terms in the driver's order, one
/// group per run of consecutive terms with the same perturbation seed, and
///   coefficient(s, k) = (sum over i in s of n_i s_i d_ik) / (sum over all i of n_i) / (K sigma).
/// Shared seeds give one group per seed round; per-client seeds one group per result.
seed_groups baffle_seed_groups(const world& w, const std::vector<baffle_term>& terms);

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
