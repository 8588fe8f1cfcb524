// Optimizers on the flat parameter buffer: SGD with momentum and Adam, coupled weight decay.
// Element-wise, so the result does not depend on how the buffer is split across threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "models/enum_names.hpp"

namespace baffle {

enum class optimizer_kind { sgd, adam };

template <>
struct enum_names<optimizer_kind> {
  static constexpr std::array<std::pair<optimizer_kind, std::string_view>, 2> table = {{
      {optimizer_kind::adam, "adam"},
      {optimizer_kind::sgd, "sgd"},
  }};
};

struct optimizer_config {
  optimizer_kind kind = optimizer_kind::adam;
  double lr = 1e-2;
  double momentum = 0.0;       ///< sgd
  double beta1 = 0.9;          ///< adam
  double beta2 = 0.99;         ///< adam
  double eps = 1e-8;           ///< adam
  double weight_decay = 5e-4;  ///< coupled: g += weight_decay * w before the update
  bool nesterov = false;       ///< sgd with momentum: torch's Nesterov form
};

/// Learning-rate schedule over rounds: linear warm-up, then step decay at milestones.
struct lr_schedule {
  double lr = 1e-2;
  int warmup_rounds = 0;  ///< rounds 1..warmup_rounds ramp from warmup_lr to lr
  double warmup_lr = 0.0;
  std::vector<int> milestones;  ///< from each milestone round on, lr *= gamma
  double gamma = 0.1;
};

/// The learning rate of round `round` (1-based).
double lr_at_round(const lr_schedule& s, int64_t round);

/// The reference code's clipping: when max_i |g_i| exceeds clip, g is rescaled as a whole so that
/// its largest coordinate is clip. clip <= 0 disables. Returns the scale applied (1 = none).
float clip_inf(std::span<float> grad, double clip);

/// ema = decay * ema + (1 - decay) * w (ema initialised to w when empty).
void ema_update(std::vector<float>& ema, std::span<const float> w, double decay);

/// The decay of the EMA's n-th update (n >= 1): `decay`, or with `warmup` torch_ema's schedule
/// min(decay, (1 + n) / (10 + n)) (2/11 at n = 1, 1/2 at n = 8), which the reference code uses.
double ema_decay_at(double decay, bool warmup, int64_t n);

/// Moments and step count; sized on the first step.
struct optimizer_state {
  std::vector<float> m;
  std::vector<float> v;
  int64_t step = 0;
};

/// One update of params with gradient grad (grad is left unchanged), at learning rate cfg.lr.
void optimizer_step(const optimizer_config& cfg, optimizer_state& st, std::span<float> params,
                    std::span<const float> grad);

}  // namespace baffle
