// Tests for models/seed_pool.hpp: rounds draw every pool seed about equally often; the model kept
// as W0 plus rebuilt partial sums equals a catch-up that regenerates every direction, bit for
// bit, for every direction option and thread count.
#include "models/seed_pool.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace baffle {
namespace {

TEST(SeedPool, RoundsDrawEveryPoolSeedAboutEquallyOften) {
  const int pool = 8;
  std::vector<int> hits(pool, 0);
  for (uint64_t r = 1; r <= 8000; ++r) {
    const int m = pool_index_of_round(42, pool, r);
    ASSERT_GE(m, 0);
    ASSERT_LT(m, pool);
    hits[m] += 1;
  }
  for (int h : hits) EXPECT_NEAR(h, 1000, 150);
  EXPECT_NE(pool_seed(42, 0), pool_seed(42, 1));
  EXPECT_NE(pool_seed(42, 0), pool_seed(43, 0));
}

TEST(SeedPool, IncrementalRebuildEqualsTheCatchUpBitForBitForAnyOptionAndThreadCount) {
  estimator_options orthogonal;
  orthogonal.orthogonal = true;
  estimator_options sparse;
  sparse.sparsity = 0.3;
  sparse.distribution = direction_distribution::rademacher;
  for (const estimator_options& options : {estimator_options{}, orthogonal, sparse}) {
    const int64_t n = 9000;  // more than two 4096-element chunks
    std::vector<float> w0(n);
    for (int64_t i = 0; i < n; ++i) w0[i] = 0.001f * static_cast<float>(i % 97) - 0.05f;
    pool_model p = make_pool_model(7, 5, 6, w0);
    ASSERT_EQ(p.index_of(pool_seed(7, 3)), 3);
    EXPECT_EQ(p.index_of(12345), -1);
    tbb::task_arena one(1), two(2);
    std::vector<float> w(n);
    for (int step = 0; step < 6; ++step) {
      // Each step moves the coefficients of one or two pool seeds.
      std::vector<int> touched = {step % 5};
      if (step % 2 == 1) touched.push_back((step + 2) % 5);
      for (int m : touched)
        for (int j = 0; j < p.k; ++j)
          p.coefficients[static_cast<size_t>(m) * p.k + j] += 0.01 * (step + 1) * (j - 2.5);
      pool_rebuild(p, touched, options, w, two);
      const std::vector<float> caught_up = pool_catch_up(p, options, one);
      ASSERT_EQ(caught_up, w) << "step " << step;
    }
    EXPECT_NE(w, w0);
  }
}

}  // namespace
}  // namespace baffle
