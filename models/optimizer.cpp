// SGD (momentum) and Adam, as torch.optim implements them, with coupled weight decay.
#include "models/optimizer.hpp"

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
        // torch: the first step initialises the buffer with g.
        st.m[i] = st.step == 1 ? g : mu * st.m[i] + g;
        g = st.m[i];
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

}  // namespace baffle
