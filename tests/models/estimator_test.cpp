// The BAFFLE estimator: its direction agrees with the true gradient, improves with K, and its
// scalars and reconstruction do not depend on the thread count, nor on whether a tiny client step
// ran on the calling thread or over the arena.
#include "models/estimator.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "models/compute.hpp"
#include "models/mlp.hpp"
#include "models/normal.hpp"
#include "tests/models/estimator_problem.hpp"

namespace baffle {
namespace {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

std::vector<float> estimate(const problem& p, int k, fd_scheme scheme, uint64_t seed,
                            tbb::task_arena& arena) {
  perturbation_plan plan;
  plan.round_seed = seed;
  plan.k = k;
  plan.sigma = 1e-3f;
  plan.scheme = scheme;
  const auto est = baffle_client_step(p.net, p.params, p.batch(), plan, arena);
  std::vector<double> dbar(est.scalars.begin(), est.scalars.end());
  std::vector<float> g(p.net.param_count());
  baffle_reconstruct(dbar, plan, g, arena);
  return g;
}

TEST(BaffleEstimator, DirectionAgreesWithBackpropGradient) {
  enter_compute_thread();
  problem p;
  tbb::task_arena arena(2);
  const auto truth = p.true_gradient();
  const double n = static_cast<double>(p.net.param_count());  // 131
  for (auto scheme : {fd_scheme::forward, fd_scheme::central}) {
    const double cos_small = cosine(estimate(p, 20, scheme, 1, arena), truth);
    const double cos_large = cosine(estimate(p, 4000, scheme, 1, arena), truth);
    // For Gaussian directions E[cos] is about sqrt(K / (K + n)): 0.36 at K = 20, 0.98 at 4000.
    EXPECT_GT(cos_large, 0.9 * std::sqrt(4000 / (4000 + n)));
    EXPECT_GT(cos_small, 0.05);
    EXPECT_GT(cos_large, cos_small);
  }
}

TEST(BaffleEstimator, ForwardAndCentralSchemesAgree) {
  enter_compute_thread();
  problem p;
  tbb::task_arena arena(2);
  // Same seeds, so both schemes use the same directions; with small sigma the differences
  // agree to first order.
  const auto f = estimate(p, 500, fd_scheme::forward, 9, arena);
  const auto c = estimate(p, 500, fd_scheme::central, 9, arena);
  EXPECT_GT(cosine(f, c), 0.99);
}

TEST(BaffleEstimator, ScalarsAndGradientAreIdenticalForOneAndTwoThreads) {
  enter_compute_thread();
  problem p;
  tbb::task_arena one(1), two(2);
  perturbation_plan plan;
  plan.round_seed = 42;
  plan.k = 37;
  plan.sigma = 1e-4f;
  const auto a = baffle_client_step(p.net, p.params, p.batch(), plan, one);
  const auto b = baffle_client_step(p.net, p.params, p.batch(), plan, two);
  EXPECT_EQ(a.scalars, b.scalars);
  EXPECT_EQ(a.forward_passes, plan.k + 1);
  EXPECT_EQ(estimate(p, 37, fd_scheme::forward, 42, one),
            estimate(p, 37, fd_scheme::forward, 42, two));
}

/// The same network, claiming a million times its FLOPs, so baffle_client_step takes the parallel
/// path (see runs_serially) on the same arithmetic.
class heavy final : public network {
 public:
  explicit heavy(const network& inner) : network(inner.precision()), inner_(inner) {}
  int64_t param_count() const override { return inner_.param_count(); }
  void init(std::span<float> p, uint64_t seed) const override { inner_.init(p, seed); }
  double forward_flops(int batch) const override { return 1e6 * inner_.forward_flops(batch); }
  loss_stats loss_at(forward_precision f, std::span<const float> p, const batch_view& b,
                     workspace& ws) const override {
    return inner_.loss_at(f, p, b, ws);
  }
  loss_stats loss_and_grad(std::span<const float> p, const batch_view& b, std::span<float> g,
                           workspace& ws) const override {
    return inner_.loss_and_grad(p, b, g, ws);
  }
  std::string describe() const override { return "heavy " + inner_.describe(); }

 private:
  const network& inner_;
};

TEST(BaffleEstimator, OnlyTinyClientStepsRunOnTheCallingThread) {
  const perturbation_plan k37{42, 37, 1e-4f, fd_scheme::forward};
  const perturbation_plan k100{42, 100, 1e-4f, fd_scheme::forward};
  problem p;
  EXPECT_TRUE(runs_serially(p.net, p.size, k37)) << p.net.describe();
  EXPECT_TRUE(runs_serially(mlp(64, {16}, 10), 4, perturbation_plan{1, 10, 1e-4f}))
      << "the scale benchmark's client";
  EXPECT_FALSE(runs_serially(heavy(p.net), p.size, k37));
  EXPECT_FALSE(runs_serially(mlp(784, {32}, 10), 32, k100)) << "the quickstart's client";
}

TEST(BaffleEstimator, SerialAndParallelClientStepsGiveIdenticalScalars) {
  enter_compute_thread();
  problem p;
  const heavy big(p.net);
  tbb::task_arena one(1), two(2);
  for (fd_scheme scheme : {fd_scheme::forward, fd_scheme::central}) {
    const perturbation_plan plan{42, 37, 1e-4f, scheme};
    ASSERT_TRUE(runs_serially(p.net, p.size, plan));
    ASSERT_FALSE(runs_serially(big, p.size, plan));
    workspace_pool pool;
    const auto serial = baffle_client_step(p.net, p.params, p.batch(), plan, two, &pool);
    for (tbb::task_arena* arena : {&one, &two}) {
      const auto parallel = baffle_client_step(big, p.params, p.batch(), plan, *arena, &pool);
      EXPECT_EQ(serial.scalars, parallel.scalars);
      EXPECT_EQ(serial.base.loss_sum, parallel.base.loss_sum);
      EXPECT_EQ(serial.base.correct, parallel.base.correct);
      EXPECT_EQ(serial.forward_passes, parallel.forward_passes);
    }
    // And each scalar is its definition, computed here one forward at a time.
    workspace ws;
    std::vector<float> w(p.params.size());
    const double base = p.net.loss(p.params, p.batch(), ws).mean_loss();
    for (int k = 0; k < plan.k; ++k) {
      add_scaled_normal(perturbation_stream(plan.round_seed, k), 0, plan.sigma, p.params, w);
      const double plus = p.net.loss(w, p.batch(), ws).mean_loss();
      if (scheme == fd_scheme::forward) {
        EXPECT_EQ(serial.scalars[k], static_cast<float>(plus - base)) << k;
      } else {
        add_scaled_normal(perturbation_stream(plan.round_seed, k), 0, -plan.sigma, p.params, w);
        const double minus = p.net.loss(w, p.batch(), ws).mean_loss();
        EXPECT_EQ(serial.scalars[k], static_cast<float>((plus - minus) / 2.0)) << k;
      }
    }
  }
}

TEST(BaffleEstimator, ReconstructionIsTheWeightedSumOfRegeneratedDirections) {
  enter_compute_thread();
  tbb::task_arena arena(2);
  perturbation_plan plan;
  plan.round_seed = 3;
  plan.k = 4;
  plan.sigma = 0.5f;
  const std::vector<double> dbar{1.0, -2.0, 0.5, 0.0};
  const size_t n = 10000;  // spans several chunks
  std::vector<float> g(n);
  baffle_reconstruct(dbar, plan, g, arena);
  std::vector<float> eps(n);
  for (size_t i = 0; i < n; i += 997) {
    double expect = 0;
    for (int k = 0; k < plan.k; ++k) {
      fill_normal(perturbation_stream(plan.round_seed, k), i, std::span<float>(eps.data(), 1));
      expect += dbar[k] / (plan.k * plan.sigma) * eps[0];
    }
    ASSERT_NEAR(g[i], expect, 1e-5 * (1 + std::abs(expect))) << "element " << i;
  }
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

/// L(w) = 0.5 * sum_i a_i (w_i - c_i)^2, ignoring the batch: gradient a_i (w_i - c_i).
class quadratic final : public network {
 public:
  explicit quadratic(int n) : a_(n), c_(n) {
    for (int i = 0; i < n; ++i) {
      a_[i] = 0.5 + (i % 7) * 0.25;
      c_[i] = std::sin(0.1 * i);
    }
  }
  int64_t param_count() const override { return static_cast<int64_t>(a_.size()); }
  void init(std::span<float> p, uint64_t) const override { std::fill(p.begin(), p.end(), 0.5f); }
  double forward_flops(int) const override { return 3.0 * a_.size(); }
  loss_stats loss_at(forward_precision, std::span<const float> p, const batch_view&,
                     workspace&) const override {
    double l = 0;
    for (size_t i = 0; i < a_.size(); ++i) l += 0.5 * a_[i] * (p[i] - c_[i]) * (p[i] - c_[i]);
    return loss_stats{l, 0, 1};
  }
  loss_stats loss_and_grad(std::span<const float> p, const batch_view& b, std::span<float> g,
                           workspace& ws) const override {
    for (size_t i = 0; i < a_.size(); ++i) g[i] = static_cast<float>(a_[i] * (p[i] - c_[i]));
    return loss(p, b, ws);
  }
  std::string describe() const override { return "quadratic"; }

 private:
  std::vector<double> a_, c_;
};

/// Relative error of the mean of `samples` independent estimates (K each) against the gradient.
double mean_estimate_error(const quadratic& q, int k, int samples, fd_scheme scheme,
                           tbb::task_arena& arena) {
  std::vector<float> w(q.param_count()), truth(q.param_count()), g(q.param_count());
  q.init(w, 0);
  workspace ws;
  q.loss_and_grad(w, batch_view{}, truth, ws);
  std::vector<double> mean(q.param_count(), 0.0);
  for (int s = 0; s < samples; ++s) {
    perturbation_plan plan{derive_seed(99, purpose::round_seed, s), k, 1e-2f, scheme};
    const auto est = baffle_client_step(q, w, batch_view{}, plan, arena);
    baffle_reconstruct(std::vector<double>(est.scalars.begin(), est.scalars.end()), plan, g, arena);
    for (size_t i = 0; i < g.size(); ++i) mean[i] += g[i] / static_cast<double>(samples);
  }
  double err = 0, norm = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    err += (mean[i] - truth[i]) * (mean[i] - truth[i]);
    norm += double(truth[i]) * truth[i];
  }
  return std::sqrt(err / norm);
}

TEST(BaffleEstimator, MeanOverSeedsConvergesToTheQuadraticsGradientAsOneOverSqrtSamples) {
  enter_compute_thread();
  tbb::task_arena arena(2);
  const quadratic q(64);
  for (auto scheme : {fd_scheme::forward, fd_scheme::central}) {
    const double e16 = mean_estimate_error(q, 10, 16, scheme, arena);
    const double e256 = mean_estimate_error(q, 10, 256, scheme, arena);
    const double e4096 = mean_estimate_error(q, 10, 4096, scheme, arena);
    // Unbiased: the relative error of the mean of S estimates is about sqrt((n + 1) / (K S)),
    // 0.63 at S = 16, 0.16 at 256, 0.04 at 4096; 16x the samples should cut it about 4x.
    EXPECT_LT(e4096, 0.08);
    EXPECT_GT(e16 / e256, 2.5);
    EXPECT_LT(e16 / e256, 6.5);
    EXPECT_GT(e256 / e4096, 2.5);
    EXPECT_LT(e256 / e4096, 6.5);
  }
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

/// One of each variance-reduction option, and a few combinations.
std::vector<estimator_options> every_option() {
  using dd = direction_distribution;
  std::vector<estimator_options> out(7);
  out[1].distribution = dd::rademacher;
  out[2].distribution = dd::sphere;
  out[3].orthogonal = true;
  out[4].sparsity = 0.5;
  out[5].baseline = loss_baseline::mean;
  out[6] = {dd::sphere, true, 0.5, loss_baseline::mean};
  return out;
}

std::string describe(const estimator_options& o) {
  return std::string(name_of(o.distribution)) + (o.orthogonal ? " orthogonal" : "") + " sparsity " +
         std::to_string(o.sparsity) + " baseline " + std::string(name_of(o.baseline));
}

TEST(BaffleEstimator, EveryOptionGivesIdenticalScalarsAndGradientForOneAndTwoThreads) {
  enter_compute_thread();
  problem p;
  const heavy big(p.net);  // takes the parallel client path
  tbb::task_arena one(1), two(2);
  for (const auto& o : every_option()) {
    for (fd_scheme scheme : {fd_scheme::forward, fd_scheme::central}) {
      perturbation_plan plan{42, 37, 1e-3f, scheme, o};
      const auto serial = baffle_client_step(p.net, p.params, p.batch(), plan, one);
      const auto a = baffle_client_step(big, p.params, p.batch(), plan, one);
      const auto b = baffle_client_step(big, p.params, p.batch(), plan, two);
      EXPECT_EQ(a.scalars, b.scalars) << describe(o);
      EXPECT_EQ(serial.scalars, b.scalars) << describe(o);
      std::vector<double> dbar(a.scalars.begin(), a.scalars.end());
      std::vector<float> ga(p.net.param_count()), gb(p.net.param_count());
      baffle_reconstruct(dbar, plan, ga, one);
      baffle_reconstruct(dbar, plan, gb, two);
      EXPECT_EQ(ga, gb) << describe(o);
    }
  }
}

TEST(BaffleEstimator, ClientsPerturbAlongTheDirectionsTheServerRebuildsFrom) {
  enter_compute_thread();
  problem p;
  tbb::task_arena arena(2);
  for (const auto& o : every_option()) {
    const perturbation_plan plan{7, 9, 1e-3f, fd_scheme::forward, o};
    const auto est = baffle_client_step(p.net, p.params, p.batch(), plan, arena);
    const direction_set dirs(plan.round_seed, plan.k, p.net.param_count(), o, arena);
    workspace ws;
    std::vector<float> w(p.params.size());
    const double base = p.net.loss(p.params, p.batch(), ws).mean_loss();
    std::vector<double> d(plan.k);
    double mean = 0;
    for (int k = 0; k < plan.k; ++k) {
      dirs.add_scaled(k, plan.sigma, p.params, w);
      d[k] = p.net.loss(w, p.batch(), ws).mean_loss() - base;
      mean += d[k] / plan.k;
    }
    for (int k = 0; k < plan.k; ++k) {
      const double expect = o.baseline == loss_baseline::mean ? d[k] - mean : d[k];
      EXPECT_NEAR(est.scalars[k], expect, 1e-7) << describe(o) << " k " << k;
    }
    // The server's g = 1/(K sigma) sum_k d_k u_k, from the same directions.
    std::vector<double> dbar(est.scalars.begin(), est.scalars.end());
    std::vector<float> g(p.net.param_count()), u(p.net.param_count());
    baffle_reconstruct(dbar, plan, g, arena);
    std::vector<double> expect(g.size(), 0.0);
    for (int k = 0; k < plan.k; ++k) {
      dirs.fill(k, 0, u);
      for (size_t i = 0; i < g.size(); ++i) expect[i] += dbar[k] / (plan.k * plan.sigma) * u[i];
    }
    for (size_t i = 0; i < g.size(); ++i)
      ASSERT_NEAR(g[i], expect[i], 1e-4 * (1 + std::abs(expect[i]))) << describe(o) << " " << i;
  }
}

/// Single estimates from `seeds` round seeds on a quadratic, against its gradient.
struct estimate_stats {
  double relative_mse = 0;   ///< mean of |g - truth|^2 / |truth|^2
  double mean_cosine = 0;    ///< mean of cos(g, truth)
  std::vector<double> mean;  ///< the mean estimate
};

estimate_stats estimate_on_quadratic(const quadratic& q, perturbation_plan plan, int seeds,
                                     tbb::task_arena& arena) {
  const size_t n = static_cast<size_t>(q.param_count());
  std::vector<float> w(n), truth(n), g(n);
  q.init(w, 0);
  workspace ws;
  q.loss_and_grad(w, batch_view{}, truth, ws);
  double truth2 = 0;
  for (float t : truth) truth2 += double(t) * t;
  estimate_stats out;
  out.mean.assign(n, 0.0);
  for (int s = 0; s < seeds; ++s) {
    plan.round_seed = derive_seed(123, purpose::round_seed, s);
    const auto est = baffle_client_step(q, w, batch_view{}, plan, arena);
    baffle_reconstruct(std::vector<double>(est.scalars.begin(), est.scalars.end()), plan, g, arena);
    double err = 0;
    for (size_t i = 0; i < n; ++i) {
      err += (g[i] - double(truth[i])) * (g[i] - double(truth[i]));
      out.mean[i] += g[i] / static_cast<double>(seeds);
    }
    out.relative_mse += err / truth2 / seeds;
    out.mean_cosine += cosine(g, truth) / seeds;
  }
  return out;
}

TEST(BaffleEstimator, EveryOptionPointsTheRightWayOnAQuadratic) {
  enter_compute_thread();
  tbb::task_arena arena(2);
  const quadratic q(256);
  for (const auto& o : every_option()) {
    for (fd_scheme scheme : {fd_scheme::forward, fd_scheme::central}) {
      const auto st = estimate_on_quadratic(q, {0, 64, 1e-2f, scheme, o}, 8, arena);
      // Gaussian directions give about sqrt(K / (K + n)) = 0.45 at K = 64, n = 256; half the
      // parameters perturbed, about sqrt(p K / (K + p n)) = 0.41.
      EXPECT_GT(st.mean_cosine, 0.3) << describe(o) << " " << name_of(scheme);
    }
  }
}

TEST(BaffleEstimator, MeanBaselineCutsTheErrorOfForwardDifferencesOnAQuadratic) {
  enter_compute_thread();
  tbb::task_arena arena(2);
  const quadratic q(64);
  // With a large sigma the forward differences share sigma^2 / 2 u^T A u (about 0.045 tr A here),
  // which the plain estimate turns into noise along the mean direction; the baseline removes it.
  for (auto dist : {direction_distribution::gaussian, direction_distribution::rademacher}) {
    estimator_options none, mean;
    none.distribution = mean.distribution = dist;
    mean.baseline = loss_baseline::mean;
    const auto a = estimate_on_quadratic(q, {0, 10, 0.3f, fd_scheme::forward, none}, 256, arena);
    const auto b = estimate_on_quadratic(q, {0, 10, 0.3f, fd_scheme::forward, mean}, 256, arena);
    EXPECT_LT(b.relative_mse, 0.5 * a.relative_mse) << name_of(dist);
    EXPECT_GT(b.mean_cosine, a.mean_cosine) << name_of(dist);
  }
}

TEST(BaffleEstimator, MeanBaselineShrinksTheExpectedEstimateByOneMinusOneOverK) {
  enter_compute_thread();
  tbb::task_arena arena(2);
  const quadratic q(64);
  std::vector<float> w(64), truth(64);
  q.init(w, 0);
  workspace ws;
  q.loss_and_grad(w, batch_view{}, truth, ws);
  estimator_options mean;
  mean.baseline = loss_baseline::mean;
  // K = 4: the baseline's expectation is 3/4 of the gradient. The mean of S = 4096 estimates is
  // within about sqrt((n + 1) / (K S)) = 0.06 of its expectation (relative).
  const auto st = estimate_on_quadratic(q, {0, 4, 1e-3f, fd_scheme::central, mean}, 4096, arena);
  auto relative_distance = [&](double factor) {
    double err = 0, norm = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      err += (st.mean[i] - factor * truth[i]) * (st.mean[i] - factor * truth[i]);
      norm += double(truth[i]) * truth[i];
    }
    return std::sqrt(err / norm);
  };
  EXPECT_LT(relative_distance(0.75), 0.12);
  EXPECT_GT(relative_distance(1.0), 0.15);
}

}  // namespace
}  // namespace baffle
