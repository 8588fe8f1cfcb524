// `baffle bench forward` and `baffle bench estimator`: how fast this machine runs the forward
// passes BAFFLE is made of, against a measured FMA peak, and what the estimator's other steps cost.
// `baffle bench scale`: a whole federation of many clients through the real actor path, its
// client updates per second and what an idle client costs in memory.
// Plain functions (no CLI11): baffle.cpp parses the command line into bench_options and
// scale_options.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "models/directions.hpp"
#include "models/network.hpp"

namespace baffle {

/// What `baffle bench` measures. Defaults are those of `baffle bench forward`.
struct bench_options {
  /// lenet (1x32x32 input, 28x28 images padded), mlp (784-32-10) or wrn (WRN-10-2)
  arch_kind model = arch_kind::lenet;
  int batch = 32;        ///< examples per forward pass
  int threads = 1;       ///< threads of the TBB arena; forward: that many concurrent forwards
  int k = 100;           ///< forward: forwards per timed block; estimator: perturbations K
  double seconds = 2.0;  ///< time budget of the repeated timed blocks of each measurement
  std::string data =
      "/usr/share/datasets/fashion-mnist";  ///< MNIST-format folder; synthetic if missing
  /// estimator: the directions and baseline, as the baffle.distribution, orthogonal, baseline and
  /// sparsity scenario keys set them (default: the plain Gaussian estimator)
  estimator_options estimator;
  /// Precision of the timed forwards (bf16, int8: f32 is timed too, in the same run, for the ratio)
  forward_precision precision = forward_precision::f32;
  double sigma = 0.0;  ///< estimator: perturbation scale (0 = the scenario default)
};

/// Empty when the options are usable; otherwise a message naming the option and what is allowed.
std::string check_bench_options(const bench_options& o);

/// `baffle bench forward`: writes one JSON object (and a newline) to `out`, or a message to `err`.
/// Returns the exit code: 0, or 2 for bad options.
int bench_forward(const bench_options& o, std::ostream& out, std::ostream& err);

/// `baffle bench estimator`: client step, one forward, reconstruction, normal generation and the
/// cosine of the estimate with the backprop gradient, as one JSON object on `out`. Exit code as
/// for bench_forward.
int bench_estimator(const bench_options& o, std::ostream& out, std::ostream& err);

/// What `baffle bench scale` runs: a synthetic "teacher" data set of clients x examples images of
/// image_size^2 pixels, split IID so every client holds `examples` of them, and an MLP
/// (image_size^2)-hidden...-10, trained with BAFFLE (K perturbations, forward differences, shared
/// seeds, sync policy) for `rounds` rounds of `per_round` clients.
struct scale_options {
  int clients = 100000;            ///< client actors spawned
  int per_round = 1000;            ///< clients selected per round
  int k = 10;                      ///< perturbations K per client
  int rounds = 20;                 ///< rounds run; rounds 2.. are timed (round 1 includes spawning)
  int threads = 0;                 ///< TBB arena and CAF scheduler threads; 0 = all cores
  int examples = 4;                ///< training images per client (= its minibatch)
  int image_size = 8;              ///< synthetic images are image_size x image_size, one channel
  std::vector<int> hidden = {16};  ///< the MLP's hidden widths
  int perturbation_cache_mb = 256;  ///< run.perturbation_cache_mb (0: off)
};

/// Empty when the options are usable; otherwise a message naming the option and what is allowed.
std::string check_scale_options(const scale_options& o);

/// `baffle bench scale`: builds the world, measures the memory of idle clients, runs the
/// federation through run_simulation and writes one JSON object to `out`. Exit code as for
/// bench_forward (1 if the run itself fails).
int bench_scale(const scale_options& o, std::ostream& out, std::ostream& err);

}  // namespace baffle
