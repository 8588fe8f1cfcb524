// Every message, atom and typed interface of baffle-sim, in one place. Each message is a plain
// struct with an inspect overload; its serialized size is what the link model charges.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/detail/serialized_size.hpp>

#include "models/estimator.hpp"
#include "net/sim_time.hpp"

namespace baffle {

/// Asks the server to run the whole scenario; it answers with a run_outcome when done.
using run_atom = caf::atom_constant<caf::atom("run")>;

/// server -> client: compute the K scalars of round `round` on a fresh minibatch.
struct round_task {
  uint64_t round = 0;
  uint64_t model_version = 0;  ///< the replica version the client must compute on
  uint64_t round_seed = 0;     ///< eps_k = N(0, I) from stream (round_seed, k)
  uint32_t k = 0;
  float sigma = 0.f;
  fd_scheme scheme = fd_scheme::forward;
  seed_mode seeds = seed_mode::shared;
  uint32_t batch_size = 0;
  /// Virtual time the client has the task and the current model (downloaded or replayed) and
  /// starts computing.
  sim_time start_time;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, round_task& x) {
  return f(caf::meta::type_name("round_task"), x.round, x.model_version, x.round_seed, x.k, x.sigma,
           x.scheme, x.seeds, x.batch_size, x.start_time);
}

/// client -> server: the K loss differences of a round, and what they cost.
struct round_result {
  uint64_t round = 0;
  uint32_t client = 0;
  std::vector<float> scalars;  ///< d_k, k = 0..K-1
  float base_loss = 0.f;       ///< mean loss at the unperturbed weights on the minibatch
  uint32_t samples = 0;        ///< minibatch size, the aggregation weight
  sim_time finish_time;        ///< virtual time the client finished computing and sent this
  uint32_t forward_passes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, round_result& x) {
  return f(caf::meta::type_name("round_result"), x.round, x.client, x.scalars, x.base_loss,
           x.samples, x.finish_time, x.forward_passes);
}

/// Which backprop baseline a backprop_task asks for.
enum class baseline : uint8_t {
  fedsgd = 0,  ///< one minibatch gradient, uploaded dense
  fedavg = 1,  ///< local epochs of SGD from the current weights, the new weights uploaded dense
};

/// server -> client (backprop baselines): train on the current model. The model itself is
/// charged on the downlink with the task (the weights every client needs).
/// Under async, `round` is the dispatch's sequence number (as for round_task).
struct backprop_task {
  uint64_t round = 0;
  uint64_t model_version = 0;
  baseline kind = baseline::fedsgd;
  uint32_t batch_size = 0;
  uint32_t local_steps = 0;  ///< fedavg: minibatch SGD steps (local epochs x batches per epoch)
  float local_lr = 0.f;      ///< fedavg: the clients' SGD learning rate
  sim_time start_time;       ///< virtual time the client has the task and the weights
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backprop_task& x) {
  return f(caf::meta::type_name("backprop_task"), x.round, x.model_version, x.kind, x.batch_size,
           x.local_steps, x.local_lr, x.start_time);
}

/// client -> server (backprop baselines): a dense vector of the model's size.
struct dense_result {
  uint64_t round = 0;
  uint32_t client = 0;
  std::vector<float> values;  ///< fedsgd: the gradient; fedavg: new weights minus received ones
  float base_loss = 0.f;      ///< mean loss of the first minibatch at the received weights
  uint32_t samples = 0;       ///< examples used, the aggregation weight
  sim_time finish_time;
  uint32_t forward_passes = 0;  ///< one per minibatch step (each followed by a backward pass)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dense_result& x) {
  return f(caf::meta::type_name("dense_result"), x.round, x.client, x.values, x.base_loss,
           x.samples, x.finish_time, x.forward_passes);
}

/// server -> client (download = "replay"): one server update as the device replays it. Group j
/// is the perturbation seed seeds[j] with coefficients[j K .. j K + K - 1], so
/// g = sum_j sum_k coefficients[j K + k] eps(seeds[j], k); the device then applies the same
/// clipping and optimizer step as the server. Shared seeds under sync: one group (the round seed
/// and the aggregated scalars / (K sigma)); per-client seeds: one group per participant; async:
/// one group per model version (shared) or per result (per-client) in the buffer.
struct model_update {
  uint64_t version = 0;  ///< the version this update produces
  int64_t step = 0;      ///< the server's step number: its learning rate is the schedule's there
  std::vector<uint64_t> seeds;
  std::vector<double> coefficients;  ///< K per seed, seed-major
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_update& x) {
  return f(caf::meta::type_name("model_update"), x.version, x.step, x.seeds, x.coefficients);
}

/// server -> nodes (backprop baselines): one server update as the weighted mean of the clients'
/// dense vectors, kept in double as the server computed it: FedSGD's gradient (clipped and
/// stepped by the server optimizer on arrival) or FedAvg's update (added as it is).
struct dense_update {
  uint64_t version = 0;  ///< the version this update produces
  int64_t step = 0;      ///< the server's step number (learning-rate schedule position)
  std::vector<double> values;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dense_update& x) {
  return f(caf::meta::type_name("dense_update"), x.version, x.step, x.values);
}

/// Device work of replaying one perturbation direction (n elements): regenerating eps_k and
/// adding it in. Charged as FLOP-equivalents per element, from this machine's measured ratio of
/// forward-pass speed to normal generation (145 GFLOP/s vs 1.25 G normals/s per core, see
/// docs/performance.md), so replay time scales with the device speed like a forward pass does.
inline constexpr double replay_flops_per_element = 116.0;

/// server -> caller: the headline results of a finished run.
struct run_outcome {
  int64_t rounds = 0;
  double sim_time_s = 0.0;
  double final_test_loss = 0.0;
  double final_test_acc = 0.0;
  uint64_t bytes_up_total = 0;
  uint64_t bytes_down_total = 0;
  /// Bytes the server exchanged with its nodes (tasks, results, updates to every node), as
  /// serialized: the traffic between machines once nodes are worker processes.
  uint64_t node_bytes_total = 0;
  int64_t forward_passes_total = 0;
  std::string model_digest;
  std::string error;  ///< empty on success
  /// What kind of failure `error` is (bad_input: e.g. a damaged checkpoint); chooses the exit code.
  error_kind error_class = error_kind::failed;
  bool stopped = false;  ///< stopped early on request (a checkpoint was written); not finished
  /// Every node the run had, lost and joined ones included: the caller ends the live ones.
  std::vector<caf::actor> nodes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_outcome& x) {
  return f(caf::meta::type_name("run_outcome"), x.rounds, x.sim_time_s, x.final_test_loss,
           x.final_test_acc, x.bytes_up_total, x.bytes_down_total, x.node_bytes_total,
           x.forward_passes_total, x.model_digest, x.error, x.error_class, x.stopped, x.nodes);
}

/// server -> node: a task for one of the node's clients, which the node hands to a client actor of
/// its own and whose reply it passes back to the server. Tasks travel through the node so that
/// they arrive after every update sent before them: CAF keeps the order between two actors.
struct node_round_task {
  uint32_t client = 0;
  round_task task;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_round_task& x) {
  return f(caf::meta::type_name("node_round_task"), x.client, x.task);
}

struct node_backprop_task {
  uint32_t client = 0;
  backprop_task task;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_backprop_task& x) {
  return f(caf::meta::type_name("node_backprop_task"), x.client, x.task);
}

/// node -> client actor (in the node's process): a task for the client it names, answered with
/// the client's round_result (BAFFLE) or dense_result (baselines), which the node passes on.
using client_actor = caf::typed_actor<caf::replies_to<node_round_task>::with<round_result>,
                                      caf::replies_to<node_backprop_task>::with<dense_result>>;

/// server -> node: the whole model state at a version (weights, optimizer moments and step, EMA),
/// for a node that starts from the middle of a run (a resumed run; later, a joining worker).
struct model_snapshot {
  uint64_t version = 0;
  std::vector<float> params;
  std::vector<float> opt_m;
  std::vector<float> opt_v;
  int64_t opt_step = 0;
  std::vector<float> ema;
  /// baffle.seed_pool: the pool's M x K coefficients the weights are built from (else empty), so
  /// the node can go on applying updates in the pool's form.
  std::vector<double> pool_coefficients;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_snapshot& x) {
  return f(caf::meta::type_name("model_snapshot"), x.version, x.params, x.opt_m, x.opt_v,
           x.opt_step, x.ema, x.pool_coefficients);
}

/// server -> node: the digest of the replica at this version, to compare with the server's.
using verify_atom = caf::atom_constant<caf::atom("verify")>;

/// server -> node: which node holds which clients from now on (see client_map in node.hpp).
/// Node i takes capacity[i] consecutive slots of every cycle of T = the capacities' sum, and
/// client c is in slot c mod T; a node of capacity 0 (lost, or just joined) holds none. Sent when
/// the capacities are not all equal, and whenever a node is lost or joins.
struct node_layout {
  std::vector<uint32_t> capacity;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_layout& x) {
  return f(caf::meta::type_name("node_layout"), x.capacity);
}

/// A node: one model replica, kept in step by the server's updates (each answered with the
/// version it now holds), and the client actors of its share of the fleet.
using node_actor = caf::typed_actor<caf::replies_to<model_snapshot>::with<uint64_t>,
                                    caf::replies_to<model_update>::with<uint64_t>,
                                    caf::replies_to<dense_update>::with<uint64_t>,
                                    caf::replies_to<node_round_task>::with<round_result>,
                                    caf::replies_to<node_backprop_task>::with<dense_result>,
                                    caf::replies_to<verify_atom, uint64_t>::with<std::string>,
                                    caf::replies_to<node_layout>::with<uint64_t>>;

/// registry -> server (in the serving process): a worker's node that joined after the run
/// started. It takes the id `node`, gets the current model, and takes clients from then on.
struct node_joined {
  uint32_t node = 0;
  node_actor handle;
  std::string host;
  uint32_t threads = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_joined& x) {
  return f(caf::meta::type_name("node_joined"), x.node, x.handle, x.host, x.threads);
}

/// The server: drives every round of the scenario when asked to run; takes nodes that join.
using server_actor =
    caf::typed_actor<caf::replies_to<run_atom>::with<run_outcome>, caf::reacts_to<node_joined>>;

/// Registers every message type; call on the config of every process that sends or receives them.
void add_message_types(caf::actor_system_config& cfg);

/// The bytes of a message as CAF's binary serializer writes them (decode_message in
/// actors/wire.hpp reads them back within bounds). Every float must be finite: CAF 0.17's
/// serializer loops forever on an infinite one.
template <class T>
std::vector<char> encode_message(const T& msg) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto err = sink(const_cast<T&>(msg));
  static_cast<void>(err);
  return buf;
}

/// Serialized size in bytes of a message as CAF's binary serializer writes it, counted without
/// writing it: CAF 0.17's serializer never returns on an infinite float (its pack754 halves
/// infinity until it is below 2), and a diverging run's update can hold one.
template <class T>
uint64_t wire_size(const T& msg) {
  caf::detail::serialized_size_inspector counter{static_cast<caf::execution_unit*>(nullptr)};
  auto err = counter(const_cast<T&>(msg));
  static_cast<void>(err);
  return counter.result();
}

}  // namespace baffle
