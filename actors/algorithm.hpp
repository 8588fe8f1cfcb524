// The server's algorithms behind one interface: BAFFLE (baffle_algorithm.cpp) and the backprop
// baselines FedSGD and FedAvg (baseline_algorithm.cpp). An algorithm knows what a client's task
// and result cost on the links, how to send a client its task, and how to turn the results of one
// update into one model step; the policy drivers (round_driver.cpp, fedbuff_driver.cpp) decide
// who computes when, and never ask which algorithm runs. Internal to the server's files.
#pragma once

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "actors/node.hpp"
#include "actors/server_steps.hpp"

namespace baffle::server_detail {

/// The fields every result has.
struct result_head {
  uint64_t round = 0;
  uint32_t client = 0;
  uint32_t samples = 0;
  float base_loss = 0.0f;
  uint32_t forward_passes = 0;
  sim_time finish_time;
};

inline result_head head_of(const any_result& r) {
  return std::visit(
      [](const auto& x) {
        return result_head{x.round,     x.client,         x.samples,
                           x.base_loss, x.forward_passes, x.finish_time};
      },
      r);
}

/// One result taken into an update, with what the step needs besides the result.
struct contribution {
  const any_result* result = nullptr;
  uint64_t seed_round = 0;        ///< BAFFLE: the round its perturbation seed was drawn for
  double staleness_factor = 1.0;  ///< s_i (FedBuff); 1 under the round policies
  uint64_t version = 0;           ///< the model version it was computed on
};

/// The weights of an update's results: n_i s_i / sum_j n_j (result_weights), in their order.
inline std::vector<double> contribution_weights(const std::vector<contribution>& in) {
  std::vector<uint32_t> samples;
  std::vector<double> factors;
  for (const contribution& c : in) {
    samples.push_back(head_of(*c.result).samples);
    factors.push_back(c.staleness_factor);
  }
  return result_weights(samples, factors);
}

class server_algorithm {
 public:
  virtual ~server_algorithm() = default;

  /// The costs of one client's task under the scenario (the same for every round).
  virtual round_costs costs(const world& w) const = 0;

  /// Sends client `client`, through its node, the task numbered `task_round` on the server's
  /// current model (BAFFLE: with the perturbations of round `seed_round`), to start on the device
  /// at `start`. `reply` gets the answer.
  virtual void send(self_ptr self, uint32_t client, uint64_t task_round, uint64_t seed_round,
                    sim_time start, reply_handler reply) const = 0;

  /// The server's step from the results of one update, in the driver's deterministic order:
  /// applied to the server's model through the one update path and sent to every node.
  virtual void step(self_ptr self, const std::vector<contribution>& in, int64_t step) const = 0;
};

std::unique_ptr<server_algorithm> make_baffle_algorithm();
std::unique_ptr<server_algorithm> make_baseline_algorithm(baseline kind);

}  // namespace baffle::server_detail
