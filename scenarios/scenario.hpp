// The typed scenario: what a scenario file declares, parsed once and validated up front.
// Defaults live here and nowhere else; everything else about a key (its name in the file, unit,
// range, when it applies, its documentation) is one row of the table in scenarios/schema.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/estimator.hpp"
#include "models/network.hpp"
#include "models/optimizer.hpp"
#include "models/synthetic.hpp"
#include "net/profiles.hpp"
#include "net/sim_time.hpp"
#include "scenarios/enums.hpp"

namespace baffle {

struct data_config {
  dataset_kind dataset = dataset_kind::fashion_mnist;
  std::string path = "/usr/share/datasets/fashion-mnist";  ///< folder with the four IDX files
  int64_t train_subset = 0;          ///< use only the first N training images (0 = all)
  int64_t test_subset = 0;           ///< evaluate on the first N test images (0 = all)
  double validation_fraction = 0.1;  ///< held out of the training images before partitioning
  int image_size = 0;  ///< pad images (centred, black) to this size; 0 = as stored (28 for MNIST)
  partition_kind partition = partition_kind::iid;
  double dirichlet_alpha = 0.5;       ///< dirichlet (label skew) and quantity (size skew)
  int shards_per_client = 2;          ///< shards
  synthetic_kind synthetic = synthetic_kind::teacher;
  int64_t synthetic_train = 10000;    ///< synthetic training images
  int64_t synthetic_test = 2000;      ///< synthetic test images
  double synthetic_noise = 0.1;  ///< teacher: label-flip probability; mixture: pixel stddev / 255
};

struct model_config {
  arch_kind arch = arch_kind::mlp;
  std::vector<int> hidden = {32};        ///< mlp: hidden layer widths; empty = softmax regression
  std::vector<int> channels = {16, 64};  ///< lenet: output channels of its two convolutions
  ::baffle::activation activation = ::baffle::activation::relu;  ///< lenet, wrn (mlp: relu)
  norm_kind norm = norm_kind::none;                              ///< lenet (GroupNorm, affine off)
  int groups =
      0;  ///< GroupNorm groups (0 = the architecture's default: lenet 2, wrn as the reference)
  int depth = 10;  ///< wrn: 6n + 4
  int width = 2;   ///< wrn: widening factor
  /// The BAFFLE clients' forward passes (evaluation, the server and the baselines stay f32)
  forward_precision precision = forward_precision::f32;
};

struct train_config {
  algorithm_kind algorithm = algorithm_kind::baffle;
  int local_epochs = 1;              ///< fedavg: passes over the client's shard per round
  double local_lr = 0.05;            ///< fedavg: the clients' SGD learning rate
  int rounds = 100;
  int batch_size = 32;
  optimizer_kind optimizer = optimizer_kind::adam;
  double lr = 1e-2;
  double momentum = 0.0;        ///< sgd only
  double beta1 = 0.9;           ///< adam only
  double beta2 = 0.99;          ///< adam only
  double adam_eps = 1e-8;       ///< adam only
  double weight_decay = 5e-4;   ///< coupled (added to the gradient)
  int eval_every = 10;          ///< evaluate every N rounds (and always after the last)
  bool nesterov = false;        ///< sgd only, needs momentum > 0
  std::vector<int> milestones;  ///< lr *= gamma from each of these rounds on
  double gamma = 0.1;           ///< learning-rate decay at each milestone
  int warmup_rounds = 0;        ///< lr ramps linearly from warmup_lr to lr over these rounds
  double warmup_lr = 0.0;
  double clip_inf = 0.0;   ///< rescale g when max |g_i| exceeds it (0 = off)
  double ema_decay = 0.0;  ///< EMA of the weights for evaluation (0 = off)
  int ema_every = 1;       ///< the EMA follows every N-th model version
  bool ema_warmup = false;  ///< torch_ema: start at the initial weights, decay min(d, (1+n)/(10+n))
};

struct baffle_config {
  int k = 100;                     ///< perturbations per client per round
  double sigma = 1e-4;             ///< perturbation scale
  fd_scheme scheme = fd_scheme::forward;  ///< finite differences
  seed_mode seeds = seed_mode::shared;    ///< eps_k the same for all clients, or per client
  /// Entries of the directions before orthogonalisation (models/directions.hpp)
  direction_distribution distribution = direction_distribution::gaussian;
  bool orthogonal = false;                       ///< Gram-Schmidt over each seed's K directions
  loss_baseline baseline = loss_baseline::none;  ///< control variate on the K differences
  double sparsity = 1.0;  ///< fraction of the parameters each seed perturbs (1 = all)
  /// How a client gets the model: the full weights with every task, the (seed, scalars, step)
  /// updates it missed replayed on the device, or per client and task whichever is sooner
  download_mode download = download_mode::weights;
  /// Perturbation seeds drawn from this many seeds fixed at the start (0 = a fresh seed every
  /// round): the model is the initial weights plus one coefficient per pool direction.
  int seed_pool = 0;
};

struct link_config {
  /// One-way latency in seconds, drawn once per client and direction.
  distribution latency = distribution::constant(0.05);
  double up_bytes_per_sec = 0.0;    ///< client -> server bandwidth (0 = unlimited)
  double down_bytes_per_sec = 0.0;  ///< server -> client bandwidth (0 = unlimited)
};

struct compute_config {
  double gflops =
      10.0;  ///< median device speed in GFLOP/s (1e9 floating-point operations per second)
  double gflops_bf16 = 0.0;  ///< the same device's speed at bf16 forwards (0: as gflops)
  double gflops_int8 = 0.0;  ///< the same device's speed at int8 forwards (0: as gflops)
  distribution spread = distribution::constant(1.0);  ///< per-client speed factor
  double stragglers = 0.0;          ///< fraction of clients slowed by straggler_slowdown
  double straggler_slowdown = 1.0;  ///< a straggler's speed is divided by this
  double jitter = 0.0;              ///< per-round speed factor uniform in [1 - jitter, 1 + jitter)
};

struct server_config {
  policy_kind policy = policy_kind::sync;
  sim_time deadline = sim_time::from_seconds(10);  ///< deadline policy: accept arrivals within this
  double over_select = 1.3;  ///< first-m: select ceil(per_round * over_select), keep per_round
  int concurrency = 10;  ///< async: clients in flight at any time (unset: clients.per_round)
  int buffer = 5;            ///< async: results aggregated per server update
  staleness_kind staleness = staleness_kind::poly;  ///< async: weighting by staleness
  double staleness_exponent = 0.5;  ///< async: a in (1 + tau)^-a (poly) or 1 / (a (tau - b) + 1)
  int staleness_hinge = 4;          ///< async hinge: b, staleness up to which the weight is 1
  int max_staleness = 0;            ///< async: discard results staler than this (0 = no limit)
};

struct clients_config {
  int count = 10;
  int per_round = 10;
  double dropout = 0.0;            ///< probability a selected client vanishes in a round
  std::string availability_trace;  ///< FedScale-style on/off trace file ("" = always available)
  link_config link;
  compute_config compute;
};

struct run_config {
  /// Write a checkpoint every N rounds (async: server updates) so `baffle run --resume` can
  /// continue a killed run; 0 = only when stopped by SIGINT/SIGTERM.
  int checkpoint_every = 100;
  /// In-process nodes, each with its own model replica (`baffle run --nodes` overrides it).
  int nodes = 1;
  /// baffle serve: worker processes the run waits for before its first round (`serve --workers`
  /// overrides it).
  int workers = 1;
  /// Compare every node's replica digest with the server's every N model versions; 0 = at the
  /// end of the run only.
  int verify_every = 0;
  /// BAFFLE: every N updates also compute the true minibatch gradient and report the estimate's
  /// cosine and norm ratio with it (0 = off); changes nothing else in the run.
  int measure_gradient_every = 0;
  /// BAFFLE: MB per node for the perturbed weights its clients share under shared seeds (formed
  /// once per model version and round, not per client); 0 = off. Changes no result.
  int perturbation_cache_mb = 256;
};

struct scenario {
  std::string name = "unnamed";
  uint64_t seed = 1;
  data_config data;
  model_config model;
  train_config train;
  baffle_config baffle;
  clients_config clients;
  server_config server;
  run_config run;
  std::string source_file;  ///< the file it was loaded from (for messages), not a key
};

/// The network the scenario's model keys describe, on images of in_channels x image_size^2
/// (after padding) with `classes` labels.
inline network_spec network_spec_of(const scenario& sc, int in_channels, int image_size,
                                    int classes) {
  network_spec spec;
  spec.arch = sc.model.arch;
  spec.hidden = sc.model.hidden;
  spec.inputs = in_channels * image_size * image_size;
  spec.classes = classes;
  spec.in_channels = in_channels;
  spec.image_size = image_size;
  spec.channels = sc.model.channels;
  spec.act = sc.model.activation;
  spec.norm = sc.model.norm;
  spec.groups = sc.model.groups;
  spec.depth = sc.model.depth;
  spec.width = sc.model.width;
  spec.precision = sc.model.precision;
  return spec;
}

}  // namespace baffle
