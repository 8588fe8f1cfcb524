// Perturbation directions under each variance-reduction option: the defining property of each
// (+-1 entries, the sphere's radius, orthonormality, the sparsity mask), second moments of one,
// and the same bits for any thread count and any slicing.
#include "models/directions.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "models/compute.hpp"
#include "models/normal.hpp"

namespace baffle {
namespace {

/// Every direction of the set, row k = u_k, filled in one call each.
std::vector<std::vector<float>> rows(const direction_set& d) {
  std::vector<std::vector<float>> out(d.count(), std::vector<float>(d.size()));
  for (int k = 0; k < d.count(); ++k) d.fill(k, 0, out[k]);
  return out;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

estimator_options with(direction_distribution d, bool orthogonal = false, double sparsity = 1.0) {
  estimator_options o;
  o.distribution = d;
  o.orthogonal = orthogonal;
  o.sparsity = sparsity;
  return o;
}

std::string describe(const estimator_options& o) {
  return std::string(name_of(o.distribution)) + (o.orthogonal ? " orthogonal" : "") + " sparsity " +
         std::to_string(o.sparsity);
}

/// One of each option and a few combinations.
std::vector<estimator_options> every_option() {
  using dd = direction_distribution;
  return {
      with(dd::gaussian),           with(dd::rademacher),         with(dd::sphere),
      with(dd::gaussian, true),     with(dd::rademacher, true),   with(dd::gaussian, false, 0.3),
      with(dd::sphere, false, 0.3), with(dd::gaussian, true, 0.3)};
}

constexpr int64_t n = 10000;  // spans three 4096-element reduction chunks

TEST(Directions, RademacherEntriesArePlusOrMinusOneInAboutEqualNumbers) {
  tbb::task_arena arena(2);
  const direction_set d(11, 3, n, with(direction_distribution::rademacher), arena);
  for (const auto& u : rows(d)) {
    int plus = 0;
    for (float x : u) {
      ASSERT_TRUE(x == 1.f || x == -1.f) << x;
      plus += x > 0;
    }
    EXPECT_NEAR(plus, n / 2, 4 * std::sqrt(n / 4.0));  // 4 binomial standard deviations
  }
}

TEST(Directions, SphereDirectionsHaveNormSqrtNAndAreScaledGaussians) {
  tbb::task_arena arena(2);
  const direction_set d(12, 4, n, with(direction_distribution::sphere), arena);
  std::vector<float> z(n);
  for (int k = 0; k < d.count(); ++k) {
    std::vector<float> u(n);
    d.fill(k, 0, u);
    EXPECT_NEAR(dot(u, u) / n, 1.0, 1e-5) << k;
    fill_normal(perturbation_stream(12, k), 0, z);
    EXPECT_NEAR(dot(u, z) / std::sqrt(dot(u, u) * dot(z, z)), 1.0, 1e-6) << "parallel to eps_k";
  }
}

TEST(Directions, OrthogonalDirectionsAreOrthonormalTimesSqrtN) {
  tbb::task_arena arena(2);
  for (auto dist : {direction_distribution::gaussian, direction_distribution::rademacher}) {
    const direction_set d(13, 20, n, with(dist, true), arena);
    const auto u = rows(d);
    double worst_cross = 0, worst_norm = 0;
    for (int j = 0; j < d.count(); ++j) {
      worst_norm = std::max(worst_norm, std::abs(dot(u[j], u[j]) / n - 1.0));
      for (int k = 0; k < j; ++k)
        worst_cross = std::max(worst_cross, std::abs(dot(u[j], u[k])) / n);
    }
    EXPECT_LT(worst_norm, 1e-5) << name_of(dist);
    EXPECT_LT(worst_cross, 1e-5) << name_of(dist);
    // Gram-Schmidt in order: the first direction is the first base direction, normalised.
    std::vector<float> z(n);
    fill_normal(perturbation_stream(13, 0), 0, z);
    if (dist == direction_distribution::gaussian) {
      EXPECT_NEAR(dot(u[0], z) / std::sqrt(dot(u[0], u[0]) * dot(z, z)), 1.0, 1e-6);
    }
  }
}

TEST(Directions, OrthogonalDirectionsOfAFewParametersStopAtTheirRank) {
  // Five directions in four dimensions: the fifth depends on the others and is zero.
  tbb::task_arena arena(1);
  const direction_set d(14, 5, 4, with(direction_distribution::gaussian, true), arena);
  const auto u = rows(d);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(dot(u[k], u[k]), 4.0, 1e-4) << k;
  EXPECT_EQ(dot(u[4], u[4]), 0.0);
}

TEST(Directions, SparsityPerturbsTheSameFractionPOfParametersInEveryDirection) {
  tbb::task_arena arena(2);
  for (double p : {0.05, 0.3, 0.9}) {
    for (auto o : {with(direction_distribution::gaussian, false, p),
                   with(direction_distribution::rademacher, false, p),
                   with(direction_distribution::gaussian, true, p)}) {
      const direction_set d(15, 6, n, o, arena);
      const auto u = rows(d);
      int kept = 0;
      for (int64_t i = 0; i < n; ++i) {
        kept += u[0][i] != 0.f;
        for (int k = 1; k < d.count(); ++k)
          ASSERT_EQ(u[k][i] != 0.f, u[0][i] != 0.f) << describe(o) << " element " << i;
      }
      EXPECT_NEAR(kept, p * n, 4 * std::sqrt(n * p * (1 - p))) << describe(o);
      if (o.distribution == direction_distribution::rademacher && !o.orthogonal) {
        const float on = static_cast<float>(1 / std::sqrt(p));
        for (float x : u[0]) ASSERT_TRUE(x == 0.f || std::abs(x) == on) << x;
      }
    }
  }
  EXPECT_EQ(mask_threshold(1.0), uint64_t{1} << 32);
  EXPECT_EQ(mask_threshold(0.5), uint64_t{1} << 31);
}

TEST(Directions, EverySecondMomentIsAboutOneSoSteinsEstimateKeepsItsForm) {
  // E[u_i^2] = 1 for every option: the mean of u_i^2 over 64 directions and all i is near 1 (the
  // sparse ones within 5 standard deviations of their mask's count).
  tbb::task_arena arena(2);
  for (const auto& o : every_option()) {
    const direction_set d(16, 64, 20000, o, arena);
    double sum = 0;
    for (const auto& u : rows(d)) sum += dot(u, u);
    EXPECT_NEAR(sum / (64.0 * 20000), 1.0, 0.05) << describe(o);
  }
}

TEST(Directions, EveryOptionGivesTheSameBitsForOneAndTwoThreadsAndAnySlice) {
  tbb::task_arena one(1), two(2);
  for (const auto& o : every_option()) {
    const direction_set a(17, 5, n, o, one);
    const direction_set b(17, 5, n, o, two);
    const auto ua = rows(a);
    ASSERT_EQ(ua, rows(b)) << describe(o);
    // A slice starting off any block boundary equals the same slice of the whole.
    std::vector<float> slice(1234);
    a.fill(3, 4321, slice);
    EXPECT_TRUE(std::equal(slice.begin(), slice.end(), ua[3].begin() + 4321)) << describe(o);
    // add_scaled and accumulate use the same directions.
    std::vector<float> w(n, 0.5f), out(n);
    a.add_scaled(2, 0.25f, w, out);
    for (int64_t i = 0; i < n; i += 777) ASSERT_EQ(out[i], 0.5f + 0.25f * ua[2][i]) << i;
    std::vector<float> acc(1000, 0.f);
    const std::vector<int> ks{1, 4};
    const std::vector<float> coeffs{2.f, -1.f};
    a.accumulate(ks, coeffs, 5000, acc);
    for (size_t i = 0; i < acc.size(); i += 97) {
      const float expect = (0.f + 2.f * ua[1][5000 + i]) + -1.f * ua[4][5000 + i];
      ASSERT_EQ(acc[i], expect) << i;
    }
  }
}

TEST(Directions, PlainGaussianDirectionsAreTheOriginalStreamsBitForBit) {
  tbb::task_arena arena(1);
  const direction_set d(18, 2, n, estimator_options{}, arena);
  std::vector<float> w(n, 1.f), a(n), b(n);
  d.add_scaled(1, 1e-3f, w, a);
  add_scaled_normal(perturbation_stream(18, 1), 0, 1e-3f, w, b);
  EXPECT_EQ(a, b);
  std::vector<float> eps(n);
  fill_normal(perturbation_stream(18, 0), 0, eps);
  EXPECT_EQ(rows(d)[0], eps);
}

}  // namespace
}  // namespace baffle
