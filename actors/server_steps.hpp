// The server's shared steps, used by its two policy drivers (round_driver.cpp: sync, deadline,
// first-m; fedbuff_driver.cpp: async), its algorithms (algorithm.hpp) and the behaviour in
// server.cpp: ending the run, checking results, sending updates to the nodes (server_model.cpp),
// reporting updates. Internal to the server's files.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "actors/server.hpp"

namespace baffle::server_detail {

using self_ptr = server_actor::stateful_pointer<server_state>;

// --- the run ---

/// Ends the run: on success the nodes' replicas must match the server's model first.
void finish_run(self_ptr self);
/// Ends the run with an error (the message says what went wrong and where).
void fail_run(self_ptr self, std::string why);
/// A client's or node's refusal of a message (it names the reason), as opposed to a vanished actor.
std::optional<std::string> refusal(const caf::error& e);
/// Why a run stops when a client's task got no answer and could not be sent elsewhere.
std::string lost_task(uint32_t client, const caf::error& e);
/// Asks every node for its replica's digest at the server's version and compares it with the
/// server's own; a mismatch (or a refusal) becomes the run's error. Then calls `done`.
void verify_nodes(self_ptr self, std::function<void()> done);
/// Evaluates when due, updates the totals, reports the update; returns whether the run is over.
bool complete_update(self_ptr self, round_record& rec, std::vector<event_record> events);
/// Writes a checkpoint when one is due or a stop was requested; on a stop, ends the run.
bool checkpoint_or_stop(self_ptr self, int64_t round);

// --- the model (server_model.cpp) ---

/// weight_i = n_i s_i / sum_j n_j (s_i: the staleness factors, 1 under the round policies).
std::vector<double> result_weights(const std::vector<uint32_t>& samples,
                                   const std::vector<double>& staleness_factor);
/// Sends an update the server has applied to every node, before any task on the new version;
/// every `run.verify_every` versions the nodes' digests are then compared with the server's.
void broadcast(self_ptr self, const model_update& u);
void broadcast(self_ptr self, const dense_update& u);
/// Sends the whole model to every node (a resumed run), not counted in node_bytes.
void broadcast(self_ptr self, const model_snapshot& s);
/// Records a BAFFLE update (the one that produced the current version) for replaying devices.
void record_update(server_state& st, const model_update& u);
/// How client c gets the current model (weights, or replaying what it missed).
model_download download_for(const server_state& st, uint32_t c);
/// Client c's device now holds the current model, got by `d`.
void note_download(server_state& st, uint32_t c, const model_download& d);

// --- the nodes (fleet.cpp) ---

/// Takes the nodes the run starts with (their records, or in-process ones of capacity 1) and
/// watches them: a remote node that goes away is lost (its clients and tasks move), an
/// in-process one that does ends the run.
void start_fleet(self_ptr self, std::vector<node_actor> nodes, std::vector<node_record> info);
/// The layout of the live nodes' capacities, sent to every live node when it is not the uniform
/// one they start with (before any task).
void send_initial_layout(self_ptr self);
/// A node's error on a message: a refusal, or any error from an in-process node, ends the run;
/// anything else from a worker's node means the worker is gone (lose_node). `what` is what the
/// node did not do ("apply an update").
void node_failed(self_ptr self, uint32_t node, const caf::error& e, const std::string& what);
/// Whether node i takes part: joined and not lost.
bool node_live(const server_state& st, uint32_t i);
/// The live nodes' ids.
std::vector<uint32_t> live_nodes(const server_state& st);
/// Sends a client's task to the node that holds the client now; the reply goes to `reply` once,
/// whichever node computes it (a lost node's tasks go again to the clients' new nodes). Counts
/// the task and its result in node_bytes.
void send_through_node(self_ptr self, std::variant<node_round_task, node_backprop_task> task,
                       reply_handler reply);
/// The node is gone (a worker died, hung or answered with an error other than a refusal): it is
/// recorded as lost, its clients move to the live nodes and its unanswered tasks are sent again.
/// With no node left the server writes a checkpoint and ends the run with an error saying so.
void lose_node(self_ptr self, uint32_t node, const std::string& reason);
/// A worker's node that joined mid-run: gets the model, then clients from the next round on.
void join_node(self_ptr self, node_joined joined);
/// Reports the nodes to the sink (nodes.csv).
void report_nodes(self_ptr self);

/// What is wrong with a result, checked in every build type because results are messages: the
/// client, the round and the sizes must be what was asked, and the virtual finish time what the
/// plan said (the same compute_finish formula on both sides).
std::optional<std::string> result_problem(const server_state& st, const any_result& r,
                                          uint32_t client, uint64_t round, sim_time arrival);

// --- the drivers ---

policy_driver round_policy_driver();  ///< sync, deadline, first-m (round_driver.cpp)
policy_driver fedbuff_driver();       ///< async (fedbuff_driver.cpp)

}  // namespace baffle::server_detail
