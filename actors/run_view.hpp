// What the live monitor knows about one run, and the bodies of its endpoints (/status, /rounds,
// /clients, /metrics): plain state fed by the run's reports, with no thread or socket, so it is
// tested directly (actors/monitor.hpp runs it on the HTTP server's thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/round_columns.hpp"
#include "net/http_server.hpp"
#include "scenarios/scenario.hpp"

namespace baffle {

/// One Prometheus family's sample: counters end in _total; no value yet: HELP and TYPE only.
struct metric_sample {
  std::string_view name;
  std::string_view type;  ///< "counter" or "gauge"
  std::string_view help;
  std::optional<double> value;
  std::string labels;  ///< e.g. name="quickstart",state="running" (escaped), or empty
};

/// Prometheus text exposition format (version 0.0.4) of several label sets' samples: each family
/// once (HELP, TYPE), then its samples, each set's `labels` (e.g. point="k-20") added to them.
std::string prometheus_text(
    const std::vector<std::pair<std::string, std::vector<metric_sample>>>& sets);

/// A label value with backslash, double quote and newline escaped.
std::string escape_label(std::string_view v);

/// What the monitor shows of a run before its first round.
struct monitor_run_info {
  std::string name;
  std::string policy;     ///< the scenario's word: sync, deadline, first-m, async
  std::string algorithm;  ///< baffle, fedsgd, fedavg
  int64_t total_rounds = 0;
  int clients = 0;
  int nodes = 1;
  bool async = false;  ///< rounds are server updates
  /// Per node id: where it runs ("in-process", or a worker's host name); unset ones are in-process.
  std::vector<std::string> node_hosts;
};

monitor_run_info run_info_of(const scenario& sc, int nodes);

enum class run_state : uint8_t { waiting, running, finished, stopped, failed };

std::string_view name_of(run_state s);

/// Everything known about one run and the bodies of its endpoints: plain state with no thread or
/// socket, touched only on the monitor's thread.
class run_view {
 public:
  explicit run_view(monitor_run_info info = {});

  /// A round's row (in round order); sets the state to running.
  void add_round(const round_row& row);
  /// A round's events: the per-client tallies of /clients until the run's own totals arrive.
  void add_events(const std::vector<event_record>& events);
  /// The run's per-client totals (clients.csv), at its end.
  void set_clients(const std::vector<client_record>& clients);
  void set_state(run_state s, std::string message = {});
  /// Where each node runs, once a served run's workers have joined.
  void set_node_hosts(std::vector<std::string> hosts) { info_.node_hosts = std::move(hosts); }
  /// The server's own account of the nodes (it replaces the estimate from c mod N in /status).
  void set_nodes(std::vector<node_record> nodes) { nodes_ = std::move(nodes); }

  const monitor_run_info& info() const { return info_; }
  run_state state() const { return state_; }
  int64_t last_round() const { return rounds_.empty() ? 0 : rounds_.back().rec.round; }
  std::optional<double> last_test_acc() const { return test_acc_; }

  std::string status_json() const;
  /// {"since": N, "last_round": R, "rounds": [rows after round N]}
  std::string rounds_json(int64_t since) const;
  std::string clients_json() const;
  /// The run's metrics (Prometheus families, one sample each).
  std::vector<metric_sample> metrics() const;

  /// Answers `path` (below the view's folder: "", "status", "rounds", ...).
  http_response serve(std::string_view path, const http_request& req) const;

 private:
  struct client_tally {
    int selected = 0;
    int participated = 0;
    int dropped = 0;
    int late = 0;
  };
  monitor_run_info info_;
  run_state state_ = run_state::waiting;
  std::string message_;
  std::vector<round_row> rounds_;
  std::vector<client_tally> tallies_;
  std::vector<client_record> clients_;  ///< the run's own totals, once it reported them
  std::vector<node_record> nodes_;      ///< the server's account of its nodes, once reported
  uint64_t bytes_up_ = 0, bytes_down_ = 0, node_bytes_ = 0;
  int64_t forward_passes_ = 0, wasted_ = 0, dropped_ = 0, late_ = 0, participants_ = 0;
  int64_t selected_ = 0;
  std::optional<double> test_acc_, test_loss_, val_acc_, val_loss_;
  int64_t eval_round_ = 0;
};

/// The dashboard page (actors/monitor_page.html, embedded at build time): self-contained HTML and
/// JavaScript that polls status, rounds?since= and clients relative to its own URL.
std::string_view monitor_page();

}  // namespace baffle
