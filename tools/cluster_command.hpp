// baffle serve and baffle worker: a run's server takes worker processes (on this machine or
// others) as nodes over CAF's network layer. See docs/distributed.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actors/join.hpp"
#include "actors/runtime.hpp"
#include "models/result.hpp"

namespace baffle {

/// TLS between serve and its workers (CAF's OpenSSL module): PEM files of this process's
/// certificate and key, and of the CA that signed every peer's certificate. All three, or none.
struct tls_files {
  std::string certificate, key, ca;
  bool any() const { return !certificate.empty() || !key.empty() || !ca.empty(); }
};

/// Checks that all three TLS files are given and readable; the error names the option to fix.
result<bool> check_tls(const tls_files& tls);

/// Runtime options for serve or a worker: the network, its timeout and TLS.
runtime::options network_options(int threads, double peer_timeout_s, const tls_files& tls);

struct serve_request {
  std::string listen = "127.0.0.1:0";  ///< HOST:PORT the registry listens on (0: a free port)
  int workers = 0;  ///< worker nodes the run waits for before it starts (0: run.workers)
  bool local = true;                   ///< also run a node in the serving process (node 0)
  std::string secret_file;             ///< demand a shared secret from workers
  double peer_timeout_s = 10.0;        ///< a worker silent this long is lost
  tls_files tls;
};

struct worker_request {
  std::string connect;  ///< HOST:PORT of baffle serve
  int threads = 1;
  std::string secret_file;
  double peer_timeout_s = 10.0;  ///< a server silent this long is taken for gone
  tls_files tls;
};

/// A HOST:PORT text split; the port may be 0 only when `allow_zero`. `what` names the option.
result<std::pair<std::string, uint16_t>> parse_endpoint(const std::string& text,
                                                        const std::string& what, bool allow_zero);

/// The secret in a file (trailing newlines dropped): never empty, never printed.
result<std::string> read_secret(const std::string& path);

/// The registry of a served run, listening; stopped (so the actor system can end) when this goes.
struct serving {
  registry_actor registry;
  std::string host;
  uint16_t port = 0;
  serving() = default;
  serving(registry_actor r, std::string h, uint16_t p)
      : registry(std::move(r)), host(std::move(h)), port(p) {}
  serving(serving&&) = default;
  serving& operator=(serving&&) = default;
  ~serving() {
    if (registry) caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  }
};

/// Checks the request, spawns the registry into rt and publishes it; prints
/// "listening on HOST:PORT" on stdout. An error means exit 2 (nothing was written).
result<serving> start_serving(runtime& rt, const serve_request& req, const std::string& scenario,
                              const world& w);

/// Every worker's node once all are ready, and each one's host name, by node id.
struct joined_workers {
  std::vector<node_actor> nodes;
  std::vector<std::string> hosts;
  std::vector<uint32_t> threads;
};

/// Blocks until every worker's node is ready.
joined_workers wait_for_workers(runtime& rt, const serving& s);

/// baffle worker: joins the run served at req.connect and computes its node's share until the
/// run ends (exit 0), the server goes away (1) or refuses it (2).
int worker_command(const worker_request& req);

}  // namespace baffle
