// What the server reports on evaluation rounds (server.cpp's complete_update): the evaluated
// model at the clients' precision beside f32, only where it means something, the same for any
// thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "actors/run.hpp"
#include "models/enum_names.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

/// The toy LeNet run of 4 rounds (evaluated on rounds 2 and 4) at precision p.
scenario lenet_toy(forward_precision p) {
  scenario sc = toy_lenet_scenario();
  sc.model.precision = p;
  return sc;
}

TEST(Evaluation, ForwardsAtTheClientsPrecisionScoreTheSameModelDifferently) {
  for (auto p : {forward_precision::bf16, forward_precision::int8}) {
    auto w = build_world(lenet_toy(p), toy_data(200, 40));
    ASSERT_TRUE(w.ok()) << w.error();
    std::vector<float> params(static_cast<size_t>((*w)->net->param_count()));
    (*w)->net->init(params, 7);
    tbb::task_arena arena(2);
    const dataset& test = (*w)->data.test;
    const loss_stats f32 = evaluate(**w, params, test, {}, arena);
    const loss_stats f32_named =
        evaluate(**w, params, test, {}, arena, nullptr, forward_precision::f32);
    const loss_stats low = evaluate(**w, params, test, {}, arena, nullptr, p);
    EXPECT_EQ(f32.loss_sum, f32_named.loss_sum) << "f32 is the default";
    EXPECT_EQ(low.count, f32.count);
    EXPECT_NE(low.loss_sum, f32.loss_sum) << name_of(p) << " rounds the weights and inputs";
    EXPECT_NEAR(low.mean_loss(), f32.mean_loss(), 0.05 * f32.mean_loss()) << name_of(p);
  }
}

TEST(Evaluation, LowPrecisionRunsReportTestAtTheirPrecisionOnEvaluationRoundsOnly) {
  for (auto p : {forward_precision::bf16, forward_precision::int8}) {
    auto w = build_world(lenet_toy(p), toy_data(200, 40));
    ASSERT_TRUE(w.ok()) << w.error();
    round_records_sink one, two;
    const auto a = run_simulation(*w, run_options{1}, &one);
    const auto b = run_simulation(*w, run_options{2}, &two);
    ASSERT_TRUE(a.error.empty() && b.error.empty()) << a.error << b.error;
    ASSERT_EQ(one.rounds.size(), 4u);
    ASSERT_EQ(two.rounds.size(), 4u);
    for (size_t i = 0; i < one.rounds.size(); ++i) {
      const round_record& r = one.rounds[i];
      const bool evaluated = r.round % 2 == 0;
      ASSERT_EQ(r.test_acc_lowp.has_value(), evaluated) << name_of(p) << " round " << r.round;
      ASSERT_EQ(r.test_loss_lowp.has_value(), evaluated) << name_of(p) << " round " << r.round;
      // Thread-count independent, bit for bit.
      EXPECT_EQ(r.test_acc_lowp, two.rounds[i].test_acc_lowp);
      EXPECT_EQ(r.test_loss_lowp, two.rounds[i].test_loss_lowp);
      if (!evaluated) continue;
      // Its own forwards: close to f32's figures, but not a copy of them.
      EXPECT_NE(*r.test_loss_lowp, *r.test_loss) << name_of(p) << " round " << r.round;
      EXPECT_NEAR(*r.test_loss_lowp, *r.test_loss, 0.05 * *r.test_loss) << name_of(p);
      EXPECT_NEAR(*r.test_acc_lowp, *r.test_acc, 0.1) << name_of(p) << " round " << r.round;
    }
  }
}

TEST(Evaluation, F32RunsLeaveTheLowPrecisionColumnsEmpty) {
  auto w = build_world(lenet_toy(forward_precision::f32), toy_data(200, 40));
  ASSERT_TRUE(w.ok()) << w.error();
  round_records_sink sink;
  const auto o = run_simulation(*w, run_options{1}, &sink);
  ASSERT_TRUE(o.error.empty()) << o.error;
  ASSERT_EQ(sink.rounds.size(), 4u);
  for (const round_record& r : sink.rounds) {
    EXPECT_EQ(r.test_acc.has_value(), r.round % 2 == 0);
    EXPECT_FALSE(r.test_acc_lowp.has_value()) << "round " << r.round;
    EXPECT_FALSE(r.test_loss_lowp.has_value()) << "round " << r.round;
  }
}

TEST(Evaluation, WithAnEmaTheRawWeightsAreScoredToo) {
  // The EMA never feeds back into training, so the raw weights of a run with an EMA are the
  // weights of the same run without one: their figures must be that run's.
  scenario sc = toy_lenet_scenario();
  sc.train.rounds = 6;
  auto plain = build_world(sc, toy_data(200, 40));
  sc.train.ema_decay = 0.9;
  sc.train.ema_every = 3;
  sc.train.ema_warmup = true;
  auto with_ema = build_world(sc, toy_data(200, 40));
  ASSERT_TRUE(plain.ok() && with_ema.ok());
  round_records_sink a, b, c;
  const auto pa = run_simulation(*plain, run_options{1}, &a);
  const auto eb = run_simulation(*with_ema, run_options{1}, &b);
  const auto ec = run_simulation(*with_ema, run_options{2}, &c);
  ASSERT_TRUE(pa.error.empty() && eb.error.empty() && ec.error.empty());
  EXPECT_EQ(pa.model_digest, eb.model_digest) << "the EMA changed training";
  ASSERT_EQ(a.rounds.size(), 6u);
  ASSERT_EQ(b.rounds.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const round_record& r = b.rounds[i];
    const bool evaluated = r.round % 2 == 0;
    EXPECT_FALSE(a.rounds[i].test_acc_raw.has_value()) << "no EMA, no raw column";
    ASSERT_EQ(r.test_acc_raw.has_value(), evaluated) << "round " << r.round;
    EXPECT_EQ(r.test_acc_raw, a.rounds[i].test_acc) << "round " << r.round;
    EXPECT_EQ(r.test_loss_raw, a.rounds[i].test_loss) << "round " << r.round;
    EXPECT_EQ(r.test_loss_raw, c.rounds[i].test_loss_raw) << "thread count";
    EXPECT_EQ(r.test_loss, c.rounds[i].test_loss) << "thread count";
    // The EMA (from the initial weights, first updated at version 3) is another model.
    if (evaluated) {
      EXPECT_NE(r.test_loss, a.rounds[i].test_loss) << "round " << r.round;
    }
  }
}

}  // namespace
}  // namespace baffle
