// The live monitor: an HTTP server (net/http_server) on its own thread that shows a run, or a
// sweep's points, while they happen: /status, /rounds?since=N, /clients, /metrics (Prometheus) and
// a dashboard page. It is fed through messages posted to that thread by a metrics sink, so the
// simulation never waits for an HTTP client and its results do not depend on the monitor.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/run_view.hpp"
#include "models/result.hpp"
#include "net/http_server.hpp"

namespace baffle {

/// The live monitor of one process: one run (`baffle run`), or the points of a sweep, each a
/// run_view. All methods may be called from any thread and return without waiting for a client.
class monitor final : public metrics_sink {
 public:
  /// Binds host:port (port 0: a free one) and starts serving. The error names the address and
  /// why it could not be bound; nothing has run yet.
  static result<std::unique_ptr<monitor>> start(const std::string& host, uint16_t port,
                                                http_limits limits = {});
  ~monitor() override;

  std::string url() const { return server_->url(); }
  uint16_t port() const { return server_->port(); }

  /// Single-run mode: the run the sink's reports belong to. wall_offset_s: wall time already
  /// spent (a resumed run); `earlier` rows: rounds.csv up to the checkpoint, shown as they were.
  void begin_run(monitor_run_info info, double wall_offset_s = 0.0,
                 std::vector<round_row> earlier = {});
  void end_run(run_state s, std::string message = {});
  /// Where each node of the run runs (serve: known once the workers have joined).
  void set_node_hosts(std::vector<std::string> hosts);

  // metrics_sink: the reports of the run begun last (stamped with wall time here).
  void on_round(const round_record& r) override;
  void on_clients(const std::vector<client_record>& clients) override;
  void on_events(const std::vector<event_record>& events) override;
  /// The run's nodes as the server knows them (joined, lost, tasks done): /status shows them.
  void on_nodes(const std::vector<node_record>& nodes) override;

  /// Sweep mode: the index page lists these points, each with its own view at /points/NAME/.
  void add_point(std::string name, std::string overrides, monitor_run_info info);
  /// Rows a point's run has written to its rounds.csv (the sweep follows the files).
  void point_rounds(size_t point, std::vector<round_row> rows);
  void point_state(size_t point, run_state s, std::string message = {},
                   std::optional<double> final_test_acc = {});

  /// Returns once everything posted before this call has been applied (for tests and for the
  /// final state before lingering).
  void sync();
  /// Stops serving (also done by the destructor).
  void stop();

 private:
  struct site;
  monitor(std::shared_ptr<site> s, std::unique_ptr<http_server> server);
  double wall_seconds() const;

  std::shared_ptr<site> site_;  ///< touched only on the server's thread
  std::unique_ptr<http_server> server_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double wall_offset_ = 0.0;
  std::atomic<bool> stopped_{false};
};

/// "HOST:PORT" or "[V6]:PORT" of --monitor, checked: a non-loopback address needs
/// allow_remote (--monitor-public). The error says what to write instead.
struct monitor_address {
  std::string host;
  uint16_t port = 0;
};
result<monitor_address> parse_monitor_address(const std::string& text, bool allow_remote);

}  // namespace baffle
