// `baffle bench forward` and `baffle bench estimator`: how fast this machine runs the forward
// passes BAFFLE is made of, against a measured FMA peak, and what the estimator's other steps cost.
// Plain functions (no CLI11): baffle.cpp parses the command line into bench_options.
#pragma once

#include <iosfwd>
#include <string>

namespace baffle {

/// What `baffle bench` measures. Defaults are those of `baffle bench forward`.
struct bench_options {
  std::string model =
      "lenet";           ///< "lenet" (1x32x32 input, 28x28 images padded) | "mlp" (784-32-10)
  int batch = 32;        ///< examples per forward pass
  int threads = 1;       ///< threads of the TBB arena; forward: that many concurrent forwards
  int k = 100;           ///< forward: forwards per timed block; estimator: perturbations K
  double seconds = 2.0;  ///< time budget of the repeated timed blocks of each measurement
  std::string data =
      "/usr/share/datasets/fashion-mnist";  ///< MNIST-format folder; synthetic if missing
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

}  // namespace baffle
