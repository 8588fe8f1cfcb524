// Messages from another process, decoded within bounds and checked: every field of a message that
// crossed a process boundary is untrusted, so its sizes are refused before anything is allocated
// and its ids, enums and counts are checked against limits derived from the scenario both sides
// loaded (docs/architecture.md, "Limits a message must respect").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "actors/protocol.hpp"
#include "models/result.hpp"

namespace baffle {

struct world;

/// Bounds of a node_layout (the server's deal of clients over nodes): nodes and capacity per node.
/// They bound the serving process's fleet, not the scenario: the first workers plus the late ones
/// a registry admits, each declaring its threads.
inline constexpr uint32_t max_layout_nodes = 1024;
inline constexpr uint32_t max_node_capacity = 1024;

/// What a message may hold, from the scenario (and the model it builds). Zero means "none
/// allowed" for counts, so a default-constructed limits object accepts no sized payload.
struct message_limits {
  uint32_t clients = 0;             ///< client ids are 0 .. clients - 1
  uint32_t k = 0;                   ///< scalars per round_result (baffle.k)
  uint64_t model_size = 0;          ///< floats in the model: dense results, updates, snapshots
  uint32_t max_samples = 0;         ///< samples a result may report (batch x local steps)
  uint32_t max_forward_passes = 0;  ///< forward passes a result may report
  uint32_t max_local_steps = 0;     ///< backprop_task.local_steps (FedAvg's steps per round)
  uint32_t max_seed_groups = 0;     ///< seeds per model_update (participants or buffered results)
  uint64_t pool_coefficients = 0;   ///< baffle.seed_pool x K: a model_snapshot's pool form
  uint64_t max_string = 1 << 16;    ///< bytes of any text field (run_outcome's digest and error)
  uint32_t max_nodes = max_layout_nodes;      ///< entries of a node_layout
  uint32_t max_capacity = max_node_capacity;  ///< capacity of one node in a node_layout

  /// The longest sequence any field of the message type named may hold (before decoding T).
  template <class T>
  uint64_t max_sequence() const;
};

/// The limits of a world's scenario: K, the model's size, the fleet, the batch and the policy.
message_limits limits_for(const world& w);

/// What is wrong with a decoded message whatever the receiver's state (sizes, ids, enums, counts),
/// or nothing. The receiver still checks what only it knows: the version its replica holds, the
/// client and round it asked, the planned finish time.
std::optional<std::string> message_problem(const round_task& m, const message_limits& l);
std::optional<std::string> message_problem(const round_result& m, const message_limits& l);
std::optional<std::string> message_problem(const backprop_task& m, const message_limits& l);
std::optional<std::string> message_problem(const dense_result& m, const message_limits& l);
std::optional<std::string> message_problem(const model_update& m, const message_limits& l);
std::optional<std::string> message_problem(const dense_update& m, const message_limits& l);
std::optional<std::string> message_problem(const node_round_task& m, const message_limits& l);
std::optional<std::string> message_problem(const node_backprop_task& m, const message_limits& l);
std::optional<std::string> message_problem(const model_snapshot& m, const message_limits& l);
std::optional<std::string> message_problem(const run_outcome& m, const message_limits& l);
/// At most max_nodes entries, each at most max_capacity, at least one above 0.
std::optional<std::string> message_problem(const node_layout& m, const message_limits& l);

/// Decodes one T from CAF's binary format (as caf::binary_serializer writes it), refusing any
/// sequence longer than the limits allow or than the bytes left before allocating it, then
/// checks it with message_problem. Fails (never throws, never reads past the end) on malformed,
/// truncated or trailing bytes.
template <class T>
result<T> decode_message(std::span<const char> bytes, const message_limits& l);

}  // namespace baffle
