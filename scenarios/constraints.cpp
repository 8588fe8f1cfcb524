// The rules between scenario keys that one table row cannot express, each named, in one list.
// The loader runs them after every key has been read; a rule only judges keys that were read
// without error, so one mistake gives one message.
#include <filesystem>
#include <string>
#include <system_error>

#include "scenarios/schema.hpp"
#include "scenarios/toml_text.hpp"

namespace baffle {
namespace {

void data_path_is_a_folder(const scenario& s, rule_context& ctx) {
  if (!ctx.ok("data.path") || !ctx.ok("data.dataset")) return;
  switch (s.data.dataset) {
    case dataset_kind::synthetic:
      return;  // generated: no files
    case dataset_kind::fashion_mnist:
    case dataset_kind::mnist:
    case dataset_kind::cifar10:
      break;
  }
  std::error_code ec;
  const auto status = std::filesystem::status(s.data.path, ec);
  if (std::filesystem::is_directory(status)) return;
  std::string message = std::filesystem::exists(status)
                            ? "\"" + s.data.path + "\" exists but is not a directory"
                            : "directory \"" + s.data.path + "\" not found";
  message +=
      "; data.path must be an existing directory holding the data set's files "
      "(relative paths are taken from the working directory); the default " +
      scenario{}.data.path + " is provided by the Debian package dataset-fashion-mnist";
  if (!ctx.present("data.path")) message += " (data.path was not set: this is the default)";
  ctx.fail("data.path", std::move(message));
}

void teacher_noise_is_a_probability(const scenario& s, rule_context& ctx) {
  if (s.data.synthetic == synthetic_kind::teacher && s.data.synthetic_noise > 1.0 &&
      ctx.present("data.synthetic_noise"))
    ctx.fail("data.synthetic_noise",
             "is a label-flip probability for the teacher: must be in [0, 1]");
}

void wrn_depth_is_6n_plus_4(const scenario& s, rule_context& ctx) {
  if ((s.model.depth - 4) % 6 != 0 && ctx.present("model.depth"))
    ctx.fail("model.depth", "must be 6n + 4 (10, 16, 22, 28, ...) for a wide ResNet");
}

void wrn_uses_group_norm(const scenario& s, rule_context& ctx) {
  if (s.model.arch == arch_kind::wrn && s.model.norm != norm_kind::group &&
      ctx.present("model.norm") && ctx.ok("model.norm"))
    ctx.fail("model.norm",
             "the wrn always uses GroupNorm, as the reference; use \"group\" or leave it out");
}

void lenet_has_two_convolutions(const scenario& s, rule_context& ctx) {
  if (ctx.ok("model.channels") && s.model.channels.size() != 2 && ctx.present("model.channels"))
    ctx.fail("model.channels",
             "must list exactly two channel counts, e.g. [16, 64] (conv1, conv2)");
}

void mlp_uses_relu(const scenario& s, rule_context& ctx) {
  if (s.model.arch == arch_kind::mlp && s.model.activation != activation::relu &&
      ctx.present("model.activation"))
    ctx.fail("model.activation",
             "the mlp uses \"relu\"; other activations need model.arch = \"lenet\"");
}

void lenet_groups_divide_channels(const scenario& s, rule_context& ctx) {
  const int groups = s.model.groups > 0 ? s.model.groups : 2;
  if (s.model.arch == arch_kind::lenet && s.model.norm == norm_kind::group &&
      ctx.ok("model.channels") && ctx.ok("model.groups") && s.model.channels.size() == 2 &&
      (s.model.channels[0] % groups != 0 || s.model.channels[1] % groups != 0))
    ctx.fail("model.groups",
             "must divide both model.channels (" + std::to_string(s.model.channels[0]) + ", " +
                 std::to_string(s.model.channels[1]) + ") for GroupNorm",
             {}, std::to_string(groups));
}

void nesterov_needs_sgd_momentum(const scenario& s, rule_context& ctx) {
  if (s.train.nesterov && (s.train.optimizer != optimizer_kind::sgd || s.train.momentum <= 0.0) &&
      ctx.present("train.nesterov"))
    ctx.fail("train.nesterov",
             "needs train.optimizer = \"sgd\" and train.momentum > 0 (Nesterov momentum)");
}

void ema_options_need_an_ema(const scenario& s, rule_context& ctx) {
  if (s.train.ema_decay > 0.0 || !ctx.ok("train.ema_decay")) return;
  if (s.train.ema_warmup && ctx.present("train.ema_warmup"))
    ctx.fail("train.ema_warmup",
             "needs train.ema_decay > 0 (the decay the warm-up ramps to, e.g. 0.995)");
  if (s.train.ema_every > 1 && ctx.present("train.ema_every") && ctx.ok("train.ema_every"))
    ctx.fail("train.ema_every",
             "needs train.ema_decay > 0: without an EMA there is none to update");
}

void download_modes_are_for_baffle(const scenario& s, rule_context& ctx) {
  if (s.baffle.download != download_mode::weights && s.train.algorithm != algorithm_kind::baffle &&
      ctx.present("baffle.download") && ctx.ok("train.algorithm"))
    ctx.fail("baffle.download",
             quote(name_of(s.baffle.download)) +
                 " only applies to train.algorithm = \"baffle\" (the backprop baselines always "
                 "download the weights)");
}

void per_round_within_count(const scenario& s, rule_context& ctx) {
  if (!ctx.ok("clients.count") || !ctx.ok("clients.per_round") ||
      s.clients.per_round <= s.clients.count)
    return;
  // per_round's default only becomes wrong because of count: then point at count.
  const std::string limit = "must be an integer in [1, clients.count], here [1, " +
                            std::to_string(s.clients.count) +
                            "]: a round samples per_round of the count clients";
  if (ctx.present("clients.per_round")) {
    ctx.fail("clients.per_round", limit);
  } else {
    ctx.fail("clients.per_round",
             limit + " (per_round was not set and defaults to " +
                 std::to_string(s.clients.per_round) + "; set it too)",
             "clients.count");
  }
}

void availability_trace_exists(const scenario& s, rule_context& ctx) {
  const std::string& path = s.clients.availability_trace;
  if (path.empty() || !ctx.ok("clients.availability.trace")) return;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    ctx.fail("clients.availability.trace",
             "file not found; must name an availability trace (lines client,time,on|off; see "
             "docs/scenarios.md); relative paths are taken from the working directory");
}

void deadline_is_positive(const scenario& s, rule_context& ctx) {
  if (s.server.policy == policy_kind::deadline && s.server.deadline.ns <= 0 &&
      ctx.present("server.deadline") && ctx.ok("server.deadline"))
    ctx.fail("server.deadline", "must be a positive duration for the deadline policy");
}

void concurrency_within_count(const scenario& s, rule_context& ctx) {
  // Unset, concurrency is per_round, which per_round_within_count checks already.
  if (s.server.policy == policy_kind::async && ctx.ok("clients.count") &&
      ctx.ok("server.concurrency") && s.server.concurrency > s.clients.count &&
      ctx.present("server.concurrency"))
    ctx.fail("server.concurrency", "must be an integer in [1, clients.count], here [1, " +
                                       std::to_string(s.clients.count) +
                                       "]: the clients in flight are distinct clients");
}

/// The parameter count the scenario's network will have on its data set's usual image shape
/// (MNIST-format and synthetic: 1 x 28 x 28, CIFAR-10: 3 x 32 x 32; 10 classes), or 0 when the
/// network cannot be built (other rules report why).
int64_t expected_param_count(const scenario& s) {
  int channels = 1, stored = 28;
  switch (s.data.dataset) {
    case dataset_kind::cifar10:
      channels = 3;
      stored = 32;
      break;
    case dataset_kind::fashion_mnist:
    case dataset_kind::mnist:
    case dataset_kind::synthetic:
      break;
  }
  const int size = s.data.image_size > 0 ? s.data.image_size : stored;
  const auto net = make_network(network_spec_of(s, channels, size, 10));
  return net ? (*net)->param_count() : 0;
}

void orthogonal_fits(const scenario& s, rule_context& ctx) {
  if (!s.baffle.orthogonal || !ctx.ok("baffle.k") || !ctx.ok("baffle.sparsity")) return;
  const int64_t n = expected_param_count(s);
  if (n <= 0) return;  // the model keys are wrong: their own rules say so
  const double floats = static_cast<double>(s.baffle.k) * static_cast<double>(n);
  if (floats > max_orthogonal_floats) {
    ctx.fail("baffle.orthogonal",
             "needs all K directions of a seed in memory at once: K x n = " +
                 std::to_string(s.baffle.k) + " x " + std::to_string(n) + " floats (" +
                 std::to_string(static_cast<int64_t>(floats * 4 / 1e9)) +
                 " GB) on the server and on each client computing, above the 1e9-float (4 GB) "
                 "limit; lower baffle.k or use independent directions");
  } else if (static_cast<double>(s.baffle.k) > s.baffle.sparsity * static_cast<double>(n)) {
    ctx.fail("baffle.orthogonal", "K = " + std::to_string(s.baffle.k) +
                                      " orthonormal directions need at least K of "
                                      "the n = " +
                                      std::to_string(n) +
                                      " parameters perturbed (sparsity x n); lower "
                                      "baffle.k or raise baffle.sparsity");
  }
}

void mean_baseline_needs_two_directions(const scenario& s, rule_context& ctx) {
  if (s.baffle.baseline == loss_baseline::mean && s.baffle.k < 2 && ctx.ok("baffle.k") &&
      ctx.present("baffle.baseline"))
    ctx.fail("baffle.baseline",
             "\"mean\" needs baffle.k >= 2: with one direction its difference is the mean, so "
             "the estimate would be zero");
}

/// Most floats a seed pool's partial sums may hold per replica (M x n): 1 GB.
constexpr double max_pool_floats = 2.5e8;

void seed_pool_keeps_the_model_in_pool_form(const scenario& s, rule_context& ctx) {
  if (s.baffle.seed_pool <= 0 || !ctx.ok("baffle.seed_pool") || !ctx.ok("train.optimizer")) return;
  const std::string why =
      ": with a seed pool the model must stay the initial weights plus one coefficient per pool "
      "direction, which is what a device catching up rebuilds; ";
  if (s.train.optimizer == optimizer_kind::adam) {
    ctx.fail("baffle.seed_pool",
             "needs train.optimizer = \"sgd\"" + why +
                 "Adam divides each coordinate by its own running second moment, so its steps "
                 "leave the span of the pool's directions and the catch-up would not give the "
                 "server's model",
             "train.optimizer");
  } else if (s.train.momentum > 0.0 && ctx.ok("train.momentum")) {
    ctx.fail("baffle.seed_pool",
             "needs train.momentum = 0" + why +
                 "momentum steps along a velocity the server keeps as n floats, not as pool "
                 "coefficients, so the catch-up would miss it",
             "train.momentum");
  } else if (s.train.weight_decay > 0.0 && ctx.ok("train.weight_decay")) {
    ctx.fail("baffle.seed_pool",
             "needs train.weight_decay = 0" + why +
                 "coupled weight decay shrinks the whole model every step, the initial weights "
                 "included, which no pool coefficient expresses (the default is 5e-4: set it to "
                 "0)",
             "train.weight_decay");
  }
  if (s.baffle.seeds == seed_mode::per_client && ctx.ok("baffle.seeds"))
    ctx.fail("baffle.seed_pool",
             "needs baffle.seeds = \"shared\": a per-client seed is derived from the round's "
             "seed and the client, so it is not one of the M pool seeds",
             "baffle.seeds");
  const int64_t n = expected_param_count(s);
  if (n > 0 && static_cast<double>(s.baffle.seed_pool) * static_cast<double>(n) > max_pool_floats)
    ctx.fail("baffle.seed_pool",
             "keeps M x n = " + std::to_string(s.baffle.seed_pool) + " x " + std::to_string(n) +
                 " floats of partial sums on the server and on every node, above the 2.5e8-float "
                 "(1 GB) limit; lower baffle.seed_pool");
}

}  // namespace

const std::vector<scenario_constraint>& scenario_constraints() {
  static const std::vector<scenario_constraint> rules = {
      {"data_path_is_a_folder", "data.path is an existing directory, unless the data is synthetic",
       data_path_is_a_folder},
      {"teacher_noise_is_a_probability",
       "data.synthetic_noise is at most 1 for data.synthetic = \"teacher\"",
       teacher_noise_is_a_probability},
      {"wrn_depth_is_6n_plus_4", "model.depth is 6n + 4", wrn_depth_is_6n_plus_4},
      {"wrn_uses_group_norm", "model.norm is \"group\" (or unset) for model.arch = \"wrn\"",
       wrn_uses_group_norm},
      {"lenet_has_two_convolutions", "model.channels lists two counts", lenet_has_two_convolutions},
      {"mlp_uses_relu", "model.activation is \"relu\" for model.arch = \"mlp\"", mlp_uses_relu},
      {"lenet_groups_divide_channels",
       "model.groups (0: 2) divides both model.channels for a lenet with GroupNorm",
       lenet_groups_divide_channels},
      {"nesterov_needs_sgd_momentum",
       "train.nesterov needs train.optimizer = \"sgd\" and train.momentum > 0",
       nesterov_needs_sgd_momentum},
      {"ema_options_need_an_ema",
       "train.ema_warmup = true and train.ema_every > 1 need train.ema_decay > 0",
       ema_options_need_an_ema},
      {"download_modes_are_for_baffle",
       "baffle.download other than \"weights\" needs train.algorithm = \"baffle\"",
       download_modes_are_for_baffle},
      {"orthogonal_fits",
       "baffle.orthogonal needs K x n <= 1e9 floats and K <= baffle.sparsity x n", orthogonal_fits},
      {"mean_baseline_needs_two_directions", "baffle.baseline = \"mean\" needs baffle.k >= 2",
       mean_baseline_needs_two_directions},
      {"seed_pool_keeps_the_model_in_pool_form",
       "baffle.seed_pool needs SGD without momentum or weight decay, shared seeds, and M x n <= "
       "2.5e8 floats",
       seed_pool_keeps_the_model_in_pool_form},
      {"per_round_within_count", "clients.per_round <= clients.count", per_round_within_count},
      {"availability_trace_exists", "clients.availability.trace names an existing file",
       availability_trace_exists},
      {"deadline_is_positive", "server.deadline > 0 under server.policy = \"deadline\"",
       deadline_is_positive},
      {"concurrency_within_count", "server.concurrency <= clients.count under async",
       concurrency_within_count},
  };
  return rules;
}

}  // namespace baffle
