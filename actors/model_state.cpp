// The one update path of the model (see model_state.hpp).
#include "actors/model_state.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>

#include "models/estimator.hpp"
#include "models/optimizer.hpp"

namespace baffle {

namespace {

/// After the weights changed: the EMA follows them on every ema_every-th version (its n-th
/// update is version n x ema_every, so n comes from the version, which checkpoints and snapshots
/// carry) and the model takes the update's version.
void commit(model_state& m, const world& w, uint64_t version) {
  const train_config& t = w.sc.train;
  const uint64_t every = static_cast<uint64_t>(t.ema_every);
  if (t.ema_decay > 0.0 && version % every == 0) {
    const auto n = static_cast<int64_t>(version / every);
    ema_update(m.ema, m.replica->view(), ema_decay_at(t.ema_decay, t.ema_warmup, n));
  }
  m.replica->version = version;
}

/// Clip m.grad, step the optimizer at update `step`'s learning rate, then commit.
void apply_gradient(model_state& m, const world& w, int64_t step, uint64_t version) {
  clip_inf(m.grad, w.sc.train.clip_inf);
  optimizer_config cfg = w.optimizer;
  cfg.lr = lr_at_round(w.schedule, step);
  optimizer_step(cfg, m.opt, m.replica->view(), m.grad);
  commit(m, w, version);
}

}  // namespace

model_state initial_model(const world& w) {
  model_state m;
  m.replica = std::make_shared<model_replica>();
  m.replica->params = xt::zeros<float>({static_cast<size_t>(w.net->param_count())});
  w.net->init(m.replica->view(), derive_seed(w.sc.seed, purpose::init, 0));
  // torch_ema's average starts from the weights it is created with, before any update.
  if (w.sc.train.ema_decay > 0.0 && w.sc.train.ema_warmup)
    m.ema.assign(m.replica->params.begin(), m.replica->params.end());
  if (w.sc.baffle.seed_pool > 0)
    m.pool = make_pool_model(w.sc.seed, w.sc.baffle.seed_pool, w.sc.baffle.k, m.replica->view());
  return m;
}

model_snapshot snapshot_of(const model_state& m) {
  model_snapshot s;
  s.version = m.replica->version;
  s.params.assign(m.replica->params.begin(), m.replica->params.end());
  s.opt_m = m.opt.m;
  s.opt_v = m.opt.v;
  s.opt_step = m.opt.step;
  s.ema = m.ema;
  if (m.pool.active() && m.pool.version == m.replica->version)
    s.pool_coefficients = m.pool.coefficients;
  return s;
}

bool restore(model_state& m, const model_snapshot& s) {
  const size_t n = m.replica->params.size();
  const auto fits = [n](const std::vector<float>& v) { return v.empty() || v.size() == n; };
  if (s.params.size() != n || !fits(s.opt_m) || !fits(s.opt_v) || !fits(s.ema)) return false;
  std::copy(s.params.begin(), s.params.end(), m.replica->params.begin());
  m.replica->version = s.version;
  m.opt.m = s.opt_m;
  m.opt.v = s.opt_v;
  m.opt.step = s.opt_step;
  m.ema = s.ema;
  return true;
}

std::optional<std::string> restore_pool(model_state& m, const world& w,
                                        std::span<const double> coefficients,
                                        std::span<const float> weights, uint64_t version,
                                        tbb::task_arena& arena) {
  pool_model& p = m.pool;
  if (!p.active()) {
    if (coefficients.empty()) return std::nullopt;
    return "seed pool coefficients for a scenario without baffle.seed_pool";
  }
  if (coefficients.size() != p.coefficients.size())
    return "the seed pool has " + std::to_string(p.coefficients.size()) + " coefficients, not " +
           std::to_string(coefficients.size());
  const std::vector<double> before = p.coefficients;
  p.coefficients.assign(coefficients.begin(), coefficients.end());
  std::vector<int> all(p.seeds.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  std::vector<float> rebuilt(m.replica->params.size());
  pool_rebuild(p, all, w.estimator, rebuilt, arena);
  if (!std::equal(rebuilt.begin(), rebuilt.end(), weights.begin(), weights.end(),
                  [](float a, float b) {
                    return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
                  })) {
    // Put the old coefficients back with their partial sums: the pool stays as it was.
    p.coefficients = before;
    pool_rebuild(p, all, w.estimator, rebuilt, arena);
    return std::string("the seed pool's coefficients do not rebuild the weights they came with");
  }
  p.version = version;
  return std::nullopt;
}

void rebuild_gradient(const world& w, const model_update& u, std::span<float> grad,
                      tbb::task_arena& arena) {
  const size_t k = static_cast<size_t>(w.sc.baffle.k);
  std::vector<stream_id> streams;
  std::vector<float> coeffs;
  streams.reserve(u.coefficients.size());
  coeffs.reserve(u.coefficients.size());
  for (size_t g = 0; g < u.seeds.size(); ++g) {
    for (size_t j = 0; j < k; ++j) {
      streams.push_back(perturbation_stream(u.seeds[g], static_cast<int>(j)));
      coeffs.push_back(static_cast<float>(u.coefficients[g * k + j]));
    }
  }
  reconstruct_from_streams(streams, coeffs, w.estimator, grad, arena);
}

namespace {

/// The seed pool's step (the loader allows it with SGD without momentum or weight decay only):
/// W <- W - lr s g with g = sum coefficient u and s the clipping scale, taken as
/// c(m, k) -= lr s coefficient on the pool's coefficients; W is then rebuilt as W0 plus the pool
/// directions (only the seeds this update used are regenerated).
bool apply_pool_update(model_state& m, const world& w, const model_update& u,
                       tbb::task_arena& arena) {
  pool_model& p = m.pool;
  if (p.version != m.replica->version) return false;  // weights from a snapshot: no c for them
  const size_t k = static_cast<size_t>(p.k);
  std::vector<int> touched;
  for (uint64_t seed : u.seeds) {
    const int index = p.index_of(seed);
    if (index < 0) return false;
    touched.push_back(index);
  }
  float scale = 1.0f;
  if (w.sc.train.clip_inf > 0.0) {
    m.grad.resize(m.replica->params.size());
    rebuild_gradient(w, u, m.grad, arena);
    scale = clip_inf(m.grad, w.sc.train.clip_inf);
  }
  const double step = lr_at_round(w.schedule, u.step) * static_cast<double>(scale);
  for (size_t g = 0; g < u.seeds.size(); ++g)
    for (size_t j = 0; j < k; ++j)
      p.coefficients[static_cast<size_t>(touched[g]) * k + j] -=
          step * static_cast<double>(static_cast<float>(u.coefficients[g * k + j]));
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  pool_rebuild(p, touched, w.estimator, m.replica->view(), arena);
  m.opt.step += 1;
  p.version = u.version;
  commit(m, w, u.version);
  return true;
}

}  // namespace

bool apply_update(model_state& m, const world& w, const model_update& u, tbb::task_arena& arena) {
  const size_t k = static_cast<size_t>(w.sc.baffle.k);
  if (u.version != m.replica->version + 1 || u.seeds.empty() ||
      u.coefficients.size() != u.seeds.size() * k)
    return false;
  if (m.pool.active()) return apply_pool_update(m, w, u, arena);
  m.grad.resize(m.replica->params.size());
  rebuild_gradient(w, u, m.grad, arena);
  apply_gradient(m, w, u.step, u.version);
  return true;
}

bool apply_update(model_state& m, const world& w, const dense_update& u) {
  const size_t n = m.replica->params.size();
  if (u.version != m.replica->version + 1 || u.values.size() != n) return false;
  switch (w.sc.train.algorithm) {
    case algorithm_kind::fedavg:
      for (size_t i = 0; i < n; ++i)
        m.replica->params[i] =
            static_cast<float>(static_cast<double>(m.replica->params[i]) + u.values[i]);
      commit(m, w, u.version);
      return true;
    case algorithm_kind::fedsgd:
      m.grad.assign(u.values.begin(), u.values.end());
      apply_gradient(m, w, u.step, u.version);
      return true;
    case algorithm_kind::baffle:
      break;
  }
  return false;
}

}  // namespace baffle
