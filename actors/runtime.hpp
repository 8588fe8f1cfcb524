// The runtime of one process: the actor system and what must outlive its actors (the compute
// arena and the workspace pool), the metrics sinks a run reports to, and CAF's network layer when
// asked for (serve/worker across machines). run_simulation is one use of it; a live monitor or a
// worker spawns its own actors into the same system.
#pragma once

#include <memory>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/run.hpp"

namespace baffle {

/// Forwards every report to several sinks, in the order they were attached.
class fanout_sink final : public metrics_sink {
 public:
  void attach(metrics_sink* sink) { sinks_.push_back(sink); }
  bool empty() const { return sinks_.empty(); }
  void on_round(const round_record& r) override;
  void on_clients(const std::vector<client_record>& clients) override;
  void on_events(const std::vector<event_record>& events) override;
  void on_nodes(const std::vector<node_record>& nodes) override;
  void on_log(const std::string& line) override;
  void on_checkpoint(int64_t round, std::string state) override;

 private:
  std::vector<metrics_sink*> sinks_;
};

class runtime {
 public:
  struct options {
    int threads = 1;       ///< compute threads (TBB arena) and CAF scheduler threads
    bool network = false;  ///< load CAF's middleman (io module) for remote actors
    /// With the network: a peer silent this long is taken for dead (heartbeats every tenth of
    /// it, at most every second).
    double peer_timeout_s = 10.0;
    /// With the network: TLS through CAF's OpenSSL module when all three are set (PEM files):
    /// this process's certificate and key, and the CA that must have signed the peer's.
    std::string tls_certificate{}, tls_key{}, tls_ca{};
    bool tls() const { return !tls_certificate.empty(); }
  };

  explicit runtime(options opt);
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  caf::actor_system& system() { return *system_; }
  /// Whether this runtime's network connections use TLS.
  bool tls() const { return tls_; }
  tbb::task_arena& arena() { return arena_; }
  workspace_pool& pool() { return pool_; }
  bool has_network() const { return network_; }

  /// Every report of the runs that follow also goes to `sink` (which must outlive them).
  void attach(metrics_sink* sink) { sinks_.attach(sink); }

  /// Spawns the federation of `w` (opt.nodes nodes and the server), runs every round and stops
  /// its actors; reports go to every attached sink.
  run_outcome run(std::shared_ptr<const world> w, const run_options& opt);

 private:
  // Declaration order is destruction order reversed: the system goes first and waits for every
  // actor, so the arena and pool still exist for clients computing when a run stops early.
  tbb::task_arena arena_;
  workspace_pool pool_;
  bool network_ = false;
  bool tls_ = false;
  std::unique_ptr<caf::actor_system_config> config_;
  std::unique_ptr<caf::actor_system> system_;
  fanout_sink sinks_;
};

}  // namespace baffle
