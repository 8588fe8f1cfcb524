// What the server reports after each round, and the interface of whoever records it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/sim_time.hpp"

namespace baffle {

/// One row of rounds.csv (wall time is stamped by the sink, never by the simulation).
struct round_record {
  int64_t round = 0;                ///< 1-based
  sim_time end_time;                ///< virtual time the round's update was applied
  double train_loss = 0.0;          ///< sample-weighted mean of the clients' minibatch losses
  std::optional<double> test_loss;  ///< only on evaluation rounds
  std::optional<double> test_acc;
  std::optional<double> val_loss;
  std::optional<double> val_acc;
  int selected = 0;                   ///< clients selected (over-selection included)
  int participants = 0;               ///< results aggregated
  int dropped = 0;                    ///< selected clients that vanished
  int late = 0;                       ///< results that arrived too late (deadline, beyond first M)
  int64_t wasted_forward_passes = 0;  ///< forward passes of late clients
  double stale_mean = 0.0;  ///< async: mean staleness of the aggregated results (0 otherwise)
  int64_t stale_max = 0;    ///< async: largest staleness aggregated
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;
  int64_t forward_passes = 0;
  /// Bytes the server exchanged with its nodes for this round (tasks, results, the update sent
  /// to every node); depends on the number of nodes, unlike every other column.
  uint64_t node_bytes = 0;
  /// run.measure_gradient_every: on measured updates, the BAFFLE estimate g (before clipping)
  /// against the true minibatch gradient G (backprop on the participants' minibatches, weighted
  /// as the aggregation weights them): cos(g, G), |g| / |G| and |G|. Empty otherwise.
  std::optional<double> grad_cosine;
  std::optional<double> grad_norm_ratio;
  std::optional<double> true_grad_norm;
  /// train.ema_decay > 0: on evaluation rounds, the raw weights' test loss and accuracy (test_*
  /// are the EMA's). Empty without an EMA and on rounds without evaluation.
  std::optional<double> test_loss_raw;
  std::optional<double> test_acc_raw;
  /// model.precision bf16 or int8: on evaluation rounds, the evaluated model's test loss and
  /// accuracy with its forwards at that precision (what a device running it would score). Empty
  /// for f32 and on rounds without evaluation.
  std::optional<double> test_loss_lowp;
  std::optional<double> test_acc_lowp;
};

/// A measured update's gradient quality (round_record's grad_* columns).
struct gradient_measure {
  double cosine = 0.0;
  double norm_ratio = 0.0;
  double true_norm = 0.0;
};

/// One row of clients.csv: a client's profile, data and what happened to it over the run.
struct client_record {
  uint32_t client = 0;
  int64_t shard_size = 0;
  std::vector<int64_t> labels;  ///< images per class in its shard
  double gflops = 0.0;          ///< device speed before per-round jitter
  sim_time uplink_latency;
  sim_time downlink_latency;
  int selected = 0;
  int participated = 0;  ///< results aggregated
  int dropped = 0;
  int late = 0;
  int64_t staleness_sum = 0;  ///< async: staleness summed over its aggregated results
  sim_time compute_time;  ///< virtual compute time of the rounds it computed (late ones included)
  sim_time link_time;     ///< virtual time its messages spent on its links
};

/// One line of events.log: something that happened to a client (or the server) at a virtual time.
struct event_record {
  enum class kind : uint8_t { round_start, dispatch, dropout, arrive, late, aggregate };
  sim_time time;
  int64_t round = 0;
  kind what = kind::round_start;
  int64_t client = -1;  ///< -1 for the server's own events
  std::string detail;
};

/// One line of nodes.csv: a node of the run (in-process, or a worker process's), and what became
/// of it. Rounds are the round (async: update) in flight at the time.
struct node_record {
  uint32_t node = 0;
  std::string host = "in-process";
  uint32_t threads = 1;         ///< its declared capacity: clients are dealt in proportion
  int64_t joined = 0;           ///< 0: from the start
  std::optional<int64_t> left;  ///< when the server lost it; empty while it is in the run
  std::string reason;           ///< why it was lost
  uint64_t tasks_done = 0;      ///< results it returned to the server
};

/// "<seconds> round=<r> client=<c|server> <what> <detail>", seconds with nanosecond digits.
std::string format_event(const event_record& e);

/// Receives each round's record, in round order, on the server's thread, and at the end of the
/// run every client's record.
class metrics_sink {
 public:
  virtual ~metrics_sink() = default;
  virtual void on_round(const round_record& r) = 0;
  virtual void on_clients(const std::vector<client_record>& clients) { static_cast<void>(clients); }
  /// A round's events in virtual-time order (ties: kind, then client id), after its record.
  virtual void on_events(const std::vector<event_record>& events) { static_cast<void>(events); }
  /// A line for the run's log (a node lost or joined).
  virtual void on_log(const std::string& line) { static_cast<void>(line); }
  /// Every node of the run, when the run starts, whenever one is lost or joins, and at the end.
  virtual void on_nodes(const std::vector<node_record>& nodes) { static_cast<void>(nodes); }
  /// The server's state after `round` (see actors/checkpoint.hpp), after that round's record and
  /// events: the sink stores it with whatever it needs to resume its own outputs.
  virtual void on_checkpoint(int64_t round, std::string state) {
    static_cast<void>(round);
    static_cast<void>(state);
  }
};

}  // namespace baffle
