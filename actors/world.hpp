// The world of a run, built once from the scenario and shared read-only by every actor of the
// process: data, partition, the network, client profiles. Plus the model replica type that the
// server and every node hold one of.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <tbb/task_arena.h>
#include <xtensor/xtensor.hpp>

#include "models/dataset.hpp"
#include "models/estimator.hpp"
#include "models/network.hpp"
#include "models/optimizer.hpp"
#include "models/result.hpp"
#include "models/synthetic.hpp"
#include "net/models.hpp"
#include "net/profiles.hpp"
#include "scenarios/scenario.hpp"

namespace baffle {

struct world {
  scenario sc;
  train_test data;
  normalization norm;
  partition parts;
  std::unique_ptr<network> net;
  int image_size = 0;                   ///< side of the network's input images (after padding)
  uint64_t model_bytes = 0;             ///< serialized size of the weights (baselines' download)
  uint64_t dense_result_bytes = 0;      ///< serialized size of a dense_result
  std::vector<link_profile> uplink;     ///< per client, client -> server
  std::vector<link_profile> downlink;   ///< per client, server -> client
  std::vector<device_profile> devices;  ///< per client, before per-round jitter
  device_spec device;                   ///< the fleet's device model (for per-round jitter)
  /// BAFFLE forwards at model.precision: devices run at this times their f32 speed
  double forward_speed = 1.0;
  failure_spec failures;
  availability online;  ///< when each client is reachable (empty: always)
  optimizer_config optimizer;
  lr_schedule schedule;
  fd_scheme scheme = fd_scheme::forward;
  seed_mode seeds = seed_mode::shared;
  estimator_options estimator;  ///< how clients and server draw the directions, and the baseline
};

/// Network input features per example: channels x image_size^2.
inline int64_t input_features(const world& w) {
  return static_cast<int64_t>(w.data.train.channels) * w.image_size * w.image_size;
}

/// Gathers images into x: (indices.size(), input_features) normalised floats, padded (centred,
/// with the normalised value of a black pixel) from the stored size to w.image_size, as the
/// reference feeds LeNet 32 x 32 (it resizes); labels into y.
void gather_inputs(const world& w, const dataset& d, std::span<const uint32_t> indices,
                   std::span<float> x, std::span<int32_t> y);

/// FedSGD: 1 step; FedAvg: local_epochs x ceil(smallest shard / batch) minibatch steps, the
/// same for every client so a round's work is known up front.
int baseline_steps(const world& w);

/// Serialized size of the optimizer state a device needs to replay updates: Adam's two moment
/// vectors and its step count; SGD's momentum vector; 0 for plain SGD.
uint64_t optimizer_state_bytes(const world& w);

/// The clients selected for round r starting at `start`: per_round (or the first-m cohort) drawn
/// from stream (seed, selection, r) among the clients online at `start`, sorted by id. Without a
/// trace this is select_clients over all clients.
std::vector<uint32_t> select_online_clients(const world& w, int64_t round, sim_time start,
                                            int size);

/// Client c's device in round r: its speed at the clients' forward precision (forward_speed)
/// times the round's jitter factor.
device_profile device_in_round(const world& w, uint32_t client, uint64_t round);

/// clients.compute.gflops_<precision> / gflops for a BAFFLE run at model.precision; 1 for f32 and
/// for the baselines (they backprop in f32).
double forward_speed_factor(const scenario& sc);

/// An MNIST-format (IDX) folder, the layout of both mnist and fashion-mnist.
struct idx_folder {
  std::string path;
  int64_t train_subset = 0;  ///< the first N training images (0 = all)
  int64_t test_subset = 0;   ///< the first N test images (0 = all)
  auto operator<=>(const idx_folder&) const = default;
};

/// A CIFAR-10 binary folder (cifar-10-batches-bin).
struct cifar10_folder {
  std::string path;
  int64_t train_subset = 0;  ///< the first N training images (0 = all)
  int64_t test_subset = 0;   ///< the first N test images (0 = all)
  auto operator<=>(const cifar10_folder&) const = default;
};

/// Where a scenario's images come from: the loader, and exactly the scenario values it reads.
/// Scenarios with equal sources get the same data, so a sweep loads each distinct source once.
using data_source = std::variant<idx_folder, cifar10_folder, synthetic_spec>;

/// The source data.dataset selects (with the synthetic seed derived from the scenario's seed).
/// The only place past the scenario loader that reads data.dataset.
data_source data_source_of(const scenario& sc);

/// Reads or generates the training and test sets; an error says what to fix.
result<train_test> load_data(const data_source& source);

/// Loads the data set, partitions it and builds the network; an error says what to fix.
result<std::shared_ptr<const world>> build_world(const scenario& sc);

/// The same from data already in memory (tests, synthetic data); sc.data.path is not read.
result<std::shared_ptr<const world>> build_world(const scenario& sc, train_test data);

/// The process's copy of the model, shared read-only by the clients that live here; the server
/// replaces it between rounds, never while a client of the round is computing.
struct model_replica {
  xt::xtensor<float, 1> params;  ///< the flat parameter buffer, (param_count)
  uint64_t version = 0;

  std::span<float> view() { return {params.data(), params.size()}; }
  std::span<const float> view() const { return {params.data(), params.size()}; }
};

/// Mean loss and accuracy over the listed images (all of d when indices is empty), in fixed-size
/// batches (250 images) evaluated in parallel and summed in batch order (deterministic). The
/// forwards run at `precision`: f32 measures the model; the clients' precision what a device
/// running it at that precision would score (int8 calibrates its activation scales per batch).
loss_stats evaluate(const world& w, std::span<const float> params, const dataset& d,
                    const std::vector<uint32_t>& indices, tbb::task_arena& arena,
                    workspace_pool* pool = nullptr,
                    forward_precision precision = forward_precision::f32);

/// A short hex digest of the parameter bytes (FNV-1a 64), to compare final models across runs.
std::string params_digest(std::span<const float> params);

}  // namespace baffle
