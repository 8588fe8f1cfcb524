// Which selected clients a round counts, and when it ends, decided before any compute runs: every
// arrival time follows from the link and device models, so the simulator knows in advance which
// work a policy would discard and does not compute it.
#pragma once

#include <cstdint>
#include <vector>

#include "actors/world.hpp"

namespace baffle {

/// What happens to a selected client in a round.
enum class client_fate : uint8_t {
  counted,  ///< computes and its result is aggregated
  dropped,  ///< vanished (dropout); does no work
  late,     ///< would arrive after the deadline, or after the first M; its work is wasted
};

struct planned_client {
  uint32_t client = 0;
  client_fate fate = client_fate::counted;
  sim_time start;            ///< when it has the task and the model and starts computing
  sim_time arrival;          ///< when its result would reach the server (not meaningful if dropped)
  uint64_t down_bytes = 0;   ///< what its download costs: the task, plus weights or missed updates
};

struct round_plan {
  std::vector<planned_client> clients;  ///< every selected client, by id
  sim_time end;                         ///< when the server closes the round
  int counted = 0;
  int dropped = 0;
  int late = 0;
};

/// Message sizes and work of one client in a round, as the link and device models charge them.
struct round_costs {
  uint64_t task_bytes = 0;
  uint64_t result_bytes = 0;
  int64_t forward_passes = 0;  ///< per client
  int batch_size = 0;          ///< requested; a client with a smaller shard uses its whole shard
  double flops_factor = 1.0;   ///< FLOPs per pass in forward passes (backprop: forward + backward)
  /// The model's download: model_bytes travel with every task unless the client replays the
  /// updates it missed instead (model_download::replay). `replay`: the server keeps the updates'
  /// sizes so clients can (download = "replay" or "auto").
  bool replay = false;
  uint64_t model_bytes = 0;
  /// The optimizer state a device must hold to replay updates (replaying steps the optimizer):
  /// the serialized moments and step count; 0 when the optimizer keeps none (plain SGD).
  uint64_t state_bytes = 0;
};

/// How a client brings its model up to date before computing: the weights (the default), or
/// replaying the updates it missed - `bytes` of model_update messages on its downlink and `flops`
/// of device work (replaying an update regenerates its perturbations on the device).
struct model_download {
  uint64_t bytes = 0;
  double flops = 0.0;
  bool replay = false;
  /// Instead of replaying: the weights and the optimizer state (`bytes` is both), for a device
  /// that holds no optimizer state and so cannot replay; from then on it can.
  bool with_state = false;
};

/// Bytes on the client's downlink for a task: the task, plus the weights or the missed updates.
inline uint64_t download_bytes(const round_costs& cost, const model_download& d) {
  return cost.task_bytes + (d.replay ? d.bytes : cost.model_bytes);
}

/// A backprop step (forward, then backward for activations and weights) costs about three
/// forward passes of FLOPs; the device model charges backprop baselines this much per step.
inline constexpr double backprop_flops_factor = 3.0;

/// FLOPs client c spends in a round: forward passes x FLOPs of one forward on its minibatch.
double client_flops(const world& w, uint32_t client, const round_costs& cost);

/// When client c, sent the task at `dispatch` with `download` to fetch first, starts computing.
sim_time planned_start(const world& w, uint32_t client, sim_time dispatch, const round_costs& cost,
                       const model_download& download);

/// When client c, computing in round (async: dispatch) `round` from `start` (task and model on the
/// device), finishes `flops` of work: the one formula behind a client's reported finish_time and
/// the server's planned arrivals, so the two cannot drift apart.
sim_time compute_finish(const world& w, uint32_t client, uint64_t round, sim_time start,
                        double flops);

/// Arrival of client c's result when the round starts at `start` (weights download, or replay
/// with nothing missed unless `download` says otherwise).
sim_time planned_arrival(const world& w, uint32_t client, int64_t round, sim_time start,
                         const round_costs& cost, const model_download& download = {});

/// The number of clients selected per round under the scenario's policy.
int selection_size(const scenario& sc);

/// Applies the scenario's server policy (sync, deadline or first-m) to the selected clients
/// (sorted by id). downloads[i], if given, is what selected[i] must fetch besides the task.
round_plan plan_round(const world& w, int64_t round, sim_time start,
                      const std::vector<uint32_t>& selected, const round_costs& cost,
                      const std::vector<model_download>& downloads = {});

/// The async policy's weight of a result computed `staleness` server updates ago:
/// constant 1; poly (1 + tau)^-a; hinge 1 for tau <= b, else 1 / (a (tau - b) + 1).
double staleness_weight(const server_config& server, int64_t staleness);

}  // namespace baffle
