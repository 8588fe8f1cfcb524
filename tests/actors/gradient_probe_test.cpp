// run.measure_gradient_every: the estimate's cosine with the true minibatch gradient as a run
// goes. Measuring changes nothing in the run (every policy), gives the same figures for any
// thread count, measures async results at their own model versions, and on the quickstart at
// K = 100 the cosine is about sqrt(K / n).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "actors/gradient_probe.hpp"
#include "actors/run.hpp"
#include "scenarios/loader.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

struct collecting_sink final : metrics_sink {
  std::vector<round_record> rounds;
  void on_round(const round_record& r) override { rounds.push_back(r); }
};

/// The record without the measured columns (and node_bytes, which does not apply here).
round_record without_measure(round_record r) {
  r.grad_cosine.reset();
  r.grad_norm_ratio.reset();
  r.true_grad_norm.reset();
  return r;
}

bool same_record(const round_record& a, const round_record& b) {
  return a.round == b.round && a.end_time == b.end_time && a.train_loss == b.train_loss &&
         a.test_loss == b.test_loss && a.test_acc == b.test_acc &&
         a.participants == b.participants && a.bytes_up == b.bytes_up &&
         a.bytes_down == b.bytes_down && a.forward_passes == b.forward_passes &&
         a.stale_max == b.stale_max && a.grad_cosine == b.grad_cosine &&
         a.grad_norm_ratio == b.grad_norm_ratio && a.true_grad_norm == b.true_grad_norm;
}

TEST(CompareGradients, GivesCosineNormRatioAndTrueNorm) {
  const std::vector<float> g = {3.0f, 0.0f, 0.0f};
  const std::vector<double> t = {1.0, 1.0, 0.0};
  const gradient_measure m = compare_gradients(g, t);
  EXPECT_NEAR(m.cosine, 1.0 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(m.norm_ratio, 3.0 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(m.true_norm, std::sqrt(2.0), 1e-12);
  const gradient_measure zero = compare_gradients(g, std::vector<double>(3, 0.0));
  EXPECT_EQ(zero.cosine, 0.0);
  EXPECT_EQ(zero.norm_ratio, 0.0);
}

scenario policy_scenario(policy_kind policy) {
  scenario sc = toy_scenario();
  sc.train.rounds = 6;
  sc.clients.count = 6;
  sc.clients.per_round = 4;
  sc.clients.compute.spread = distribution::lognormal(1.0, 0.8);
  sc.server.policy = policy;
  sc.server.deadline = sim_time::from_seconds(0.16);  // some clients are late
  sc.server.concurrency = 4;
  sc.server.buffer = 2;
  sc.train.clip_inf = 0.5;
  sc.train.ema_decay = 0.9;
  return sc;
}

TEST(MeasureGradient, ChangesNothingInTheRunUnderEveryPolicyAndIsThreadIndependent) {
  for (policy_kind policy :
       {policy_kind::sync, policy_kind::deadline, policy_kind::first_m, policy_kind::async}) {
    const std::string what(name_of(policy));
    scenario off = policy_scenario(policy);
    scenario on = off;
    on.run.measure_gradient_every = 2;
    const auto w_off = build_world(off, toy_data(300, 60));
    const auto w_on = build_world(on, toy_data(300, 60));
    ASSERT_TRUE(w_off.ok() && w_on.ok());
    collecting_sink s_off, s_on1, s_on2;
    const auto a = run_simulation(*w_off, run_options{2}, &s_off);
    const auto b = run_simulation(*w_on, run_options{1}, &s_on1);
    const auto c = run_simulation(*w_on, run_options{2}, &s_on2);
    ASSERT_TRUE(a.error.empty() && b.error.empty() && c.error.empty()) << what << b.error;
    EXPECT_EQ(a.model_digest, b.model_digest) << what;
    EXPECT_EQ(a.model_digest, c.model_digest) << what;
    ASSERT_EQ(s_off.rounds.size(), s_on1.rounds.size()) << what;
    ASSERT_EQ(s_on1.rounds.size(), s_on2.rounds.size()) << what;
    for (size_t i = 0; i < s_off.rounds.size(); ++i) {
      const round_record& r = s_on1.rounds[i];
      EXPECT_TRUE(same_record(without_measure(r), s_off.rounds[i])) << what << " round " << r.round;
      EXPECT_TRUE(same_record(r, s_on2.rounds[i])) << what << " round " << r.round;
      EXPECT_FALSE(s_off.rounds[i].grad_cosine.has_value());
      // Measured every second round (when the round applied an update).
      const bool due = r.round % 2 == 0 && r.participants > 0;
      ASSERT_EQ(r.grad_cosine.has_value(), due) << what << " round " << r.round;
      if (!due) continue;
      EXPECT_GT(*r.true_grad_norm, 0.0) << what;
      EXPECT_GT(*r.grad_norm_ratio, 0.0) << what;
      EXPECT_GT(*r.grad_cosine, -1.0) << what;
      EXPECT_LE(*r.grad_cosine, 1.0) << what;
    }
  }
}

TEST(MeasureGradient, AsyncMeasuresStaleResultsAtTheirOwnVersions) {
  // K much larger than the toy's 123 parameters and a tiny sigma: the estimate is nearly the
  // true gradient at the version a result was computed on (cosine about sqrt(K / (K + n)) =
  // 0.985), while a large learning rate moves the model a lot between versions, so measuring a
  // stale result against the current weights would show.
  scenario sc = policy_scenario(policy_kind::async);
  sc.baffle.k = 4000;
  sc.baffle.sigma = 1e-4;
  sc.train.clip_inf = 0.0;
  sc.train.optimizer = optimizer_kind::sgd;
  sc.train.lr = 1.0;
  sc.train.weight_decay = 0.0;
  sc.train.rounds = 12;
  sc.server.concurrency = 5;
  sc.server.buffer = 1;
  sc.server.staleness = staleness_kind::constant;
  sc.run.measure_gradient_every = 1;
  const auto w = build_world(sc, toy_data(300, 60));
  ASSERT_TRUE(w.ok());
  collecting_sink s;
  ASSERT_TRUE(run_simulation(*w, run_options{2}, &s).error.empty());
  int stale = 0;
  for (const round_record& r : s.rounds) {
    ASSERT_TRUE(r.grad_cosine.has_value()) << r.round;
    EXPECT_GT(*r.grad_cosine, 0.95) << "update " << r.round << " staleness " << r.stale_max;
    EXPECT_NEAR(*r.grad_norm_ratio, std::sqrt((4000.0 + 123 + 1) / 4000.0), 0.1) << r.round;
    stale += r.stale_max > 0;
  }
  EXPECT_GT(stale, 3) << "the test needs stale results";
}

TEST(MeasureGradient, QuickstartCosineAtK100IsAboutSqrtKOverN) {
  const char* source = std::getenv("BAFFLE_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "BAFFLE_SOURCE_DIR is not set; run this test through ctest";
  const auto file = std::filesystem::path(source) / "scenarios" / "quickstart.toml";
  const auto loaded =
      load_scenario(file.string(), {"train.rounds=6", "train.eval_every=6",
                                    "run.measure_gradient_every=1", "run.checkpoint_every=0"});
  ASSERT_TRUE(loaded.ok()) << file;
  const auto w = build_world(*loaded.value);
  ASSERT_TRUE(w.ok()) << w.error();
  const double n = static_cast<double>((*w)->net->param_count());
  ASSERT_EQ(n, 25450.0);
  collecting_sink s;
  ASSERT_TRUE(run_simulation(*w, run_options{2}, &s).error.empty());
  double cosine = 0.0, ratio = 0.0;
  for (const round_record& r : s.rounds) {
    ASSERT_TRUE(r.grad_cosine.has_value());
    cosine += *r.grad_cosine / static_cast<double>(s.rounds.size());
    ratio += *r.grad_norm_ratio / static_cast<double>(s.rounds.size());
  }
  const double expected = std::sqrt(100.0 / n);
  EXPECT_NEAR(cosine, expected, 0.2 * expected) << "mean grad_cosine over 6 rounds";
  // |g|^2 is about (n + K + 1) / K |G|^2 for Gaussian directions.
  EXPECT_NEAR(ratio, std::sqrt((n + 101.0) / 100.0), 0.2 * std::sqrt(n / 100.0));
}

}  // namespace
}  // namespace baffle
