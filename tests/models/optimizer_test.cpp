// Optimizers against hand-computed steps.
#include "models/optimizer.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "models/optimizer.hpp"

namespace baffle {
namespace {

TEST(Optimizer, SgdStepIsLearningRateTimesGradientPlusDecay) {
  optimizer_config cfg;
  cfg.kind = optimizer_kind::sgd;
  cfg.lr = 0.1;
  cfg.weight_decay = 0.5;
  optimizer_state st;
  std::vector<float> w{1.f, -2.f};
  const std::vector<float> g{0.5f, 0.25f};
  optimizer_step(cfg, st, w, g);
  EXPECT_FLOAT_EQ(w[0], 1.f - 0.1f * (0.5f + 0.5f * 1.f));
  EXPECT_FLOAT_EQ(w[1], -2.f - 0.1f * (0.25f + 0.5f * -2.f));
}

TEST(Optimizer, SgdMomentumAccumulatesLikeTorch) {
  optimizer_config cfg;
  cfg.kind = optimizer_kind::sgd;
  cfg.lr = 1.0;
  cfg.momentum = 0.9;
  cfg.weight_decay = 0.0;
  optimizer_state st;
  std::vector<float> w{0.f};
  const std::vector<float> g{1.f};
  optimizer_step(cfg, st, w, g);  // buf = 1
  optimizer_step(cfg, st, w, g);  // buf = 1.9
  EXPECT_FLOAT_EQ(w[0], -(1.f + 1.9f));
}

TEST(Optimizer, AdamFirstStepMovesEachCoordinateByLearningRate) {
  // With bias correction, Adam's first step is lr * g / (|g| + eps'), i.e. lr * sign(g).
  optimizer_config cfg;
  cfg.lr = 0.01;
  cfg.weight_decay = 0.0;
  optimizer_state st;
  std::vector<float> w{0.f, 1.f, 2.f};
  const std::vector<float> g{3.f, -0.001f, 0.f};
  optimizer_step(cfg, st, w, g);
  EXPECT_NEAR(w[0], -0.01f, 1e-7);
  EXPECT_NEAR(w[1], 1.f + 0.01f, 1e-5);
  EXPECT_FLOAT_EQ(w[2], 2.f);
}

TEST(Optimizer, AdamSecondStepMatchesHandComputation) {
  optimizer_config cfg;
  cfg.lr = 0.1;
  cfg.beta1 = 0.9;
  cfg.beta2 = 0.99;
  cfg.eps = 1e-8;
  cfg.weight_decay = 0.0;
  optimizer_state st;
  std::vector<float> w{0.f};
  optimizer_step(cfg, st, w, std::vector<float>{1.f});
  optimizer_step(cfg, st, w, std::vector<float>{2.f});
  const double m = 0.9 * 0.1 + 0.1 * 2.0;  // after step 2
  const double v = 0.99 * 0.01 + 0.01 * 4.0;
  const double step2 = 0.1 * (m / (1 - 0.81)) / (std::sqrt(v / (1 - 0.9801)) + 1e-8);
  EXPECT_NEAR(w[0], -0.1 - step2, 1e-6);
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

TEST(Optimizer, NesterovAddsMomentumLookAhead) {
  optimizer_config cfg;
  cfg.kind = optimizer_kind::sgd;
  cfg.lr = 1.0;
  cfg.momentum = 0.5;
  cfg.nesterov = true;
  cfg.weight_decay = 0.0;
  optimizer_state st;
  std::vector<float> w{0.f};
  const std::vector<float> g{1.f};
  optimizer_step(cfg, st, w, g);  // buf = 1, step = g + 0.5 buf = 1.5
  EXPECT_FLOAT_EQ(w[0], -1.5f);
  optimizer_step(cfg, st, w, g);  // buf = 1.5, step = 1 + 0.75 = 1.75
  EXPECT_FLOAT_EQ(w[0], -3.25f);
}

TEST(LrSchedule, WarmsUpLinearlyThenDecaysAtMilestones) {
  lr_schedule s{0.1, 4, 0.0, {10, 20}, 0.5};
  EXPECT_DOUBLE_EQ(lr_at_round(s, 1), 0.025);
  EXPECT_DOUBLE_EQ(lr_at_round(s, 4), 0.1);
  EXPECT_DOUBLE_EQ(lr_at_round(s, 9), 0.1);
  EXPECT_DOUBLE_EQ(lr_at_round(s, 10), 0.05);
  EXPECT_DOUBLE_EQ(lr_at_round(s, 25), 0.025);
  EXPECT_DOUBLE_EQ(lr_at_round(lr_schedule{}, 1000), 0.01);
}

TEST(ClipInf, RescalesTheWholeGradientWhenTheLargestCoordinateExceedsTheLimit) {
  std::vector<float> g{1.f, -4.f, 2.f};
  EXPECT_FLOAT_EQ(clip_inf(g, 2.0), 0.5f);
  EXPECT_EQ(g, (std::vector<float>{0.5f, -2.f, 1.f}));
  std::vector<float> small{0.1f, -0.2f};
  EXPECT_FLOAT_EQ(clip_inf(small, 2.0), 1.f);
  EXPECT_EQ(small, (std::vector<float>{0.1f, -0.2f}));
  EXPECT_FLOAT_EQ(clip_inf(g, 0.0), 1.f);  // off
}

TEST(Ema, WarmUpDecayIsTorchEmasScheduleCappedAtTheDecay) {
  // min(decay, (1 + n) / (10 + n)), by hand.
  EXPECT_DOUBLE_EQ(ema_decay_at(0.995, true, 1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.995, true, 2), 3.0 / 12.0);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.995, true, 8), 0.5);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.995, true, 20), 21.0 / 30.0);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.995, true, 1000), 1001.0 / 1010.0);
  // (1 + n) / (10 + n) reaches 0.995 at n = 1790 and stays capped after.
  EXPECT_DOUBLE_EQ(ema_decay_at(0.995, true, 1789), 1790.0 / 1799.0);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.995, true, 1791), 0.995);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.5, true, 3), 4.0 / 13.0);
  EXPECT_DOUBLE_EQ(ema_decay_at(0.5, true, 9), 0.5);
  // Without the warm-up: the decay at every n.
  for (int64_t n : {1, 2, 100}) EXPECT_DOUBLE_EQ(ema_decay_at(0.995, false, n), 0.995);
}

TEST(Ema, StartsAtTheWeightsThenAverages) {
  std::vector<float> ema;
  ema_update(ema, std::vector<float>{2.f}, 0.9);
  EXPECT_EQ(ema, std::vector<float>{2.f});
  ema_update(ema, std::vector<float>{12.f}, 0.9);
  EXPECT_FLOAT_EQ(ema[0], 0.9f * 2.f + 0.1f * 12.f);
}

}  // namespace
}  // namespace baffle
