// Joining a run across processes (baffle serve / baffle worker): the messages a worker and the
// server's registry exchange before any work, and the registry actor that admits workers.
//
//   worker -> registry: join_hello{threads}                -> join_challenge{nonce}
//   worker -> registry: join_request{nonce, proof, threads} -> join_offer{node id, nodes, scenario,
//                                                              data digest} (or a refusal)
//   worker: builds its world from the scenario, checks its data's digest, spawns its node
//   worker -> registry: join_ready{node id, node, digest}  -> the node id (or a refusal)
//
// With a shared secret the proof is HMAC-SHA256(secret, nonce) in hex: the secret never travels,
// and a nonce is good for one request. Everything a worker sends is checked before it is used.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/protocol.hpp"
#include "actors/world.hpp"

namespace baffle {

struct join_hello {
  uint32_t threads = 1;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_hello& x) {
  return f(caf::meta::type_name("join_hello"), x.threads);
}

struct join_challenge {
  std::string nonce;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_challenge& x) {
  return f(caf::meta::type_name("join_challenge"), x.nonce);
}

struct join_request {
  std::string nonce;
  std::string proof;  ///< HMAC-SHA256(secret, nonce) in hex; empty without a secret
  uint32_t threads = 1;
  std::string host;  ///< the worker's host name, for logs and the monitor
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_request& x) {
  return f(caf::meta::type_name("join_request"), x.nonce, x.proof, x.threads, x.host);
}

struct join_offer {
  uint32_t node = 0;        ///< the id the worker's node takes
  uint32_t nodes = 0;       ///< how many nodes the run has (client c lives on node c mod nodes)
  std::string scenario;     ///< the resolved scenario, TOML
  std::string data_digest;  ///< of the server's data set: the worker's must equal it
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_offer& x) {
  return f(caf::meta::type_name("join_offer"), x.node, x.nodes, x.scenario, x.data_digest);
}

struct join_ready {
  uint32_t node = 0;
  node_actor handle;
  std::string data_digest;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_ready& x) {
  return f(caf::meta::type_name("join_ready"), x.node, x.handle, x.data_digest);
}

/// Asked by the serving process itself: answers with every worker's node, by id, once `workers`
/// of them are ready.
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;
/// Asked by the serving process: every worker's host name, by node id.
using hosts_atom = caf::atom_constant<caf::atom("hosts")>;
/// Asked by the serving process: every worker's declared threads, by node id.
using threads_atom = caf::atom_constant<caf::atom("threads")>;
/// From the serving process: the run's server, which takes the workers that join after the first
/// `workers` (and any that were ready before it was attached).
using attach_atom = caf::atom_constant<caf::atom("attach")>;

using registry_actor = caf::typed_actor<caf::replies_to<join_hello>::with<join_challenge>,
                                        caf::replies_to<join_request>::with<join_offer>,
                                        caf::replies_to<join_ready>::with<uint32_t>,
                                        caf::replies_to<nodes_atom>::with<std::vector<node_actor>>,
                                        caf::replies_to<hosts_atom>::with<std::vector<std::string>>,
                                        caf::replies_to<threads_atom>::with<std::vector<uint32_t>>,
                                        caf::reacts_to<attach_atom, server_actor>>;

void add_join_message_types(caf::actor_system_config& cfg);

/// HMAC-SHA256(secret, nonce) as lowercase hex (OpenSSL).
std::string join_proof(const std::string& secret, const std::string& nonce);

/// A digest of a data set's images and labels (train and test), to check that a worker has the
/// server's data: FNV-1a over the bytes, hex.
std::string data_digest(const world& w);

struct registry_config {
  uint32_t workers = 1;   ///< how many worker nodes the run waits for
  /// How many workers may join in all: those after the first `workers` join the running run.
  uint32_t max_workers = 256;
  uint32_t first_id = 1;  ///< node ids of workers start here (0 is the server's local node)
  std::optional<std::string> secret;  ///< demanded when set
  std::string scenario;               ///< resolved TOML sent to every worker
  std::string data_digest;
  std::function<void(const std::string&)> log;  ///< one line per admission or refusal
};

struct registry_state {
  registry_config cfg;
  std::set<std::string> nonces;         ///< issued, not used yet
  std::vector<node_actor> ready;        ///< by id - first_id
  std::vector<std::string> hosts;       ///< by id - first_id
  std::vector<uint32_t> threads;        ///< by id - first_id
  std::vector<caf::actor_addr> holder;  ///< who holds each id offered and not ready
  std::vector<uint8_t> offered;         ///< per id: 0 free, 1 offered (to holder), 2 ready
  uint32_t ready_count = 0;             ///< of the first `workers` ids
  bool started = false;                 ///< the first `workers` were handed over
  std::vector<caf::typed_response_promise<std::vector<node_actor>>> waiting;
  server_actor server;             ///< takes later workers once attached
  std::vector<node_joined> later;  ///< later workers ready before the server was attached
};

registry_actor::behavior_type registry_behavior(
    registry_actor::stateful_pointer<registry_state> self, registry_config cfg);

}  // namespace baffle
