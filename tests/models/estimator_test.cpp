// The BAFFLE estimator: its direction agrees with the true gradient, improves with K, and its
// scalars and reconstruction do not depend on the thread count.
#include "models/estimator.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "models/compute.hpp"
#include "models/mlp.hpp"
#include "models/normal.hpp"

namespace baffle {
namespace {

struct problem {
  mlp net{12, {8}, 3};
  std::vector<float> params;
  std::vector<float> x;
  std::vector<int32_t> y;
  int size = 24;
  problem() {
    params.resize(net.param_count());
    net.init(params, 5);
    for (const auto& l : net.layers())
      for (int o = 0; o < l.out; ++o) params[l.bias_offset + o] = 0.1f;
    const stream_id s{77, purpose::derive, 1};
    x.resize(static_cast<size_t>(size) * 12);
    y.resize(size);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(2 * uniform01(s, i) - 1);
    for (int i = 0; i < size; ++i) y[i] = static_cast<int32_t>(uniform_below(s, 5000 + i, 3));
  }
  batch_view batch() const { return batch_view{x, y, size}; }
  std::vector<float> true_gradient() const {
    std::vector<float> g(net.param_count());
    workspace ws;
    net.loss_and_grad(params, batch(), g, ws);
    return g;
  }
};

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

std::vector<float> estimate(const problem& p, int k, fd_scheme scheme, uint64_t seed, tbb::task_arena& arena) {
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
  EXPECT_EQ(estimate(p, 37, fd_scheme::forward, 42, one), estimate(p, 37, fd_scheme::forward, 42, two));
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
