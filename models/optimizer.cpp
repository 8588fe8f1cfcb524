// SGD (momentum) and Adam, as torch.optim implements them, with coupled weight decay.
#include "models/optimizer.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace baffle {

void optimizer_step(const optimizer_config& cfg, optimizer_state& st, std::span<float> params,
                    std::span<const float> grad) {
  assert(params.size() == grad.size());
  const size_t n = params.size();
  st.step += 1;
  const float wd = static_cast<float>(cfg.weight_decay);
  const float lr = static_cast<float>(cfg.lr);
  if (cfg.kind == optimizer_kind::sgd) {
    const float mu = static_cast<float>(cfg.momentum);
    if (mu != 0.f && st.m.size() != n) st.m.assign(n, 0.f);
    for (size_t i = 0; i < n; ++i) {
      float g = grad[i] + wd * params[i];
      if (mu != 0.f) {
        // torch: the first step initialises the buffer with g; Nesterov uses g + mu * buf.
        st.m[i] = st.step == 1 ? g : mu * st.m[i] + g;
        g = cfg.nesterov ? g + mu * st.m[i] : st.m[i];
      }
      params[i] -= lr * g;
    }
    return;
  }
  if (st.m.size() != n) st.m.assign(n, 0.f);
  if (st.v.size() != n) st.v.assign(n, 0.f);
  const float b1 = static_cast<float>(cfg.beta1);
  const float b2 = static_cast<float>(cfg.beta2);
  const double t = static_cast<double>(st.step);
  const float bc1 = static_cast<float>(1.0 - std::pow(cfg.beta1, t));
  const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(cfg.beta2, t)));
  const float step_size = lr / bc1;
  const float eps = static_cast<float>(cfg.eps);
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i] + wd * params[i];
    st.m[i] = b1 * st.m[i] + (1.f - b1) * g;
    st.v[i] = b2 * st.v[i] + (1.f - b2) * g * g;
    const float denom = std::sqrt(st.v[i]) / bc2_sqrt + eps;
    params[i] -= step_size * st.m[i] / denom;
  }
}

double lr_at_round(const lr_schedule& s, int64_t round) {
  if (s.warmup_rounds > 0 && round <= s.warmup_rounds) {
    return s.warmup_lr + (s.lr - s.warmup_lr) * static_cast<double>(round) / s.warmup_rounds;
  }
  double lr = s.lr;
  for (int m : s.milestones)
    if (round >= m) lr *= s.gamma;
  return lr;
}

float clip_inf(std::span<float> grad, double clip) {
  if (clip <= 0.0) return 1.f;
  float mx = 0.f;
  for (float g : grad) mx = std::max(mx, std::abs(g));
  if (mx <= clip) return 1.f;
  const float scale = static_cast<float>(clip / mx);
  for (float& g : grad) g *= scale;
  return scale;
}

void ema_update(std::vector<float>& ema, std::span<const float> w, double decay) {
  if (ema.size() != w.size()) {
    ema.assign(w.begin(), w.end());
    return;
  }
  const float d = static_cast<float>(decay);
  for (size_t i = 0; i < w.size(); ++i) ema[i] = d * ema[i] + (1.f - d) * w[i];
}

double ema_decay_at(double decay, bool warmup, int64_t n) {
  if (!warmup) return decay;
  const double ramp = (1.0 + static_cast<double>(n)) / (10.0 + static_cast<double>(n));
  return std::min(decay, ramp);
}

}  // namespace baffle
