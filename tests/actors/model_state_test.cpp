// Tests for actors/model_state.hpp: a replica fed the server's updates, in order, through the same
// apply_update holds the server's final model bit for bit, for every policy and algorithm; and
// updates out of order or of the wrong shape are refused in every build type.
#include "actors/model_state.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <variant>

#include "actors/run.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

struct replayed {
  run_outcome outcome;
  std::string replica_digest;
  size_t updates = 0;
};

/// Runs `sc` while recording the server's updates, then applies them to a fresh model.
replayed run_and_replay(const scenario& sc) {
  auto w = build_world(sc, toy_data(240, 60));
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error());
  std::vector<std::variant<model_update, dense_update>> log;
  run_options opt{2};
  opt.on_update = [&](const model_update& u) { log.emplace_back(u); };
  opt.on_dense_update = [&](const dense_update& u) { log.emplace_back(u); };
  replayed out;
  out.outcome = run_simulation(*w, opt, nullptr);
  model_state replica = initial_model(**w);
  tbb::task_arena arena(1);  // a different thread count than the server's: same bits
  for (const auto& u : log) {
    const bool applied = std::visit(
        [&](const auto& update) {
          if constexpr (std::is_same_v<std::decay_t<decltype(update)>, model_update>)
            return apply_update(replica, **w, update, arena);
          else
            return apply_update(replica, **w, update);
        },
        u);
    EXPECT_TRUE(applied) << "update " << out.updates + 1 << " was refused";
    ++out.updates;
  }
  out.replica_digest = params_digest(replica.replica->view());
  return out;
}

TEST(ModelState, AReplicaFollowingTheUpdatesHoldsTheServersModel) {
  for (policy_kind policy :
       {policy_kind::sync, policy_kind::deadline, policy_kind::first_m, policy_kind::async}) {
    for (algorithm_kind algorithm :
         {algorithm_kind::baffle, algorithm_kind::fedsgd, algorithm_kind::fedavg}) {
      scenario sc = toy_scenario();
      sc.train.rounds = 6;
      sc.train.algorithm = algorithm;
      sc.server.policy = policy;
      sc.clients.dropout = 0.2;  // some rounds apply no update: versions trail rounds
      sc.clients.compute.spread = distribution::uniform(0.5, 1.5);
      sc.train.clip_inf = 0.5;
      sc.train.ema_decay = 0.9;
      sc.train.warmup_rounds = 2;  // the learning rate depends on the step, not the version
      sc.train.milestones = {4};
      if (policy == policy_kind::deadline) sc.server.deadline = sim_time::from_ms(300);
      if (policy == policy_kind::first_m) sc.server.over_select = 1.34;
      if (policy == policy_kind::async) {
        sc.server.concurrency = 3;
        sc.server.buffer = 2;
      }
      const std::string what = std::string(name_of(policy)) + "/" + std::string(name_of(algorithm));
      const replayed r = run_and_replay(sc);
      ASSERT_TRUE(r.outcome.error.empty()) << what << ": " << r.outcome.error;
      EXPECT_GT(r.updates, 0u) << what;
      EXPECT_EQ(r.replica_digest, r.outcome.model_digest) << what;
    }
  }
}

scenario pool_scenario(policy_kind policy, int pool) {
  scenario sc = toy_scenario();
  sc.train.rounds = 12;
  sc.server.policy = policy;
  sc.server.concurrency = 3;
  sc.server.buffer = 2;
  sc.train.optimizer = optimizer_kind::sgd;
  sc.train.lr = 0.5;
  sc.train.weight_decay = 0.0;
  sc.train.clip_inf = 0.05;  // the clipping scale goes into the coefficients
  sc.train.warmup_rounds = 3;
  sc.train.milestones = {8};
  sc.train.ema_decay = 0.9;
  sc.baffle.seed_pool = pool;
  return sc;
}

TEST(ModelState, SeedPoolCatchUpFromTheCoefficientsIsTheServersModelBitForBit) {
  for (policy_kind policy : {policy_kind::sync, policy_kind::async}) {
    const std::string what(name_of(policy));
    const scenario sc = pool_scenario(policy, 3);
    auto w = build_world(sc, toy_data(240, 60));
    ASSERT_TRUE(w.ok());
    std::vector<model_update> log;
    run_options opt{2};
    opt.on_update = [&](const model_update& u) { log.push_back(u); };
    const run_outcome out = run_simulation(*w, opt, nullptr);
    ASSERT_TRUE(out.error.empty()) << what << ": " << out.error;
    ASSERT_GT(log.size(), 5u) << what;
    // The server's model_state, followed through the one update path; after every update a
    // device holding only W0 and the pool's M x K coefficients rebuilds the same bits.
    model_state server = initial_model(**w);
    ASSERT_TRUE(server.pool.active());
    tbb::task_arena one(1), two(2);
    std::set<uint64_t> seeds;
    for (const model_update& u : log) {
      ASSERT_TRUE(apply_update(server, **w, u, two)) << what << " version " << u.version;
      seeds.insert(u.seeds.begin(), u.seeds.end());
      const std::vector<float> caught_up = pool_catch_up(server.pool, (*w)->estimator, one);
      ASSERT_EQ(params_digest(caught_up), params_digest(server.replica->view()))
          << what << " version " << u.version;
    }
    EXPECT_EQ(params_digest(server.replica->view()), out.model_digest) << what;
    // Every perturbation came from the pool, and more than one of its seeds was used.
    EXPECT_GT(seeds.size(), 1u) << what;
    for (uint64_t s : seeds) EXPECT_GE(server.pool.index_of(s), 0) << what;
    // The model moved: the pool form is not a trivial one.
    EXPECT_NE(params_digest(server.replica->view()), params_digest(server.pool.initial));
  }
}

TEST(ModelState, SeedPoolUpdateIsTheSgdStepItStandsFor) {
  // One pool update changes W by -lr s g (g rebuilt from the update, s the clipping scale), up to
  // float rounding: the pool form is the same SGD step.
  const scenario sc = pool_scenario(policy_kind::sync, 4);
  auto w = build_world(sc, toy_data(240, 60));
  ASSERT_TRUE(w.ok());
  model_state m = initial_model(**w);
  const std::vector<float> before(m.replica->params.begin(), m.replica->params.end());
  model_update u;
  u.version = 1;
  u.step = 5;  // after the warm-up, before the milestone: lr 0.5
  u.seeds = {m.pool.seeds[2]};
  for (int j = 0; j < sc.baffle.k; ++j) u.coefficients.push_back(0.01 * (j % 5 - 2));
  tbb::task_arena arena(2);
  std::vector<float> g(before.size());
  rebuild_gradient(**w, u, g, arena);
  const float scale = clip_inf(g, sc.train.clip_inf);
  ASSERT_TRUE(apply_update(m, **w, u, arena));
  for (size_t i = 0; i < before.size(); ++i)
    ASSERT_NEAR(m.replica->params[i], before[i] - 0.5f * g[i], 1e-6f) << i << " scale " << scale;
  // A seed outside the pool is refused, changing nothing.
  model_update stray = u;
  stray.version = 2;
  stray.seeds = {12345};
  EXPECT_FALSE(apply_update(m, **w, stray, arena));
  EXPECT_EQ(m.replica->version, 1u);
}

TEST(ModelState, SeedPoolIsOffByDefaultAndLeavesTheRunUnchanged) {
  scenario sc = pool_scenario(policy_kind::sync, 0);
  auto w = build_world(sc, toy_data(240, 60));
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(initial_model(**w).pool.active());
}

TEST(ModelState, PerClientSeedsReplayToo) {
  scenario sc = toy_scenario();
  sc.train.rounds = 4;
  sc.baffle.seeds = seed_mode::per_client;
  const replayed r = run_and_replay(sc);
  EXPECT_EQ(r.updates, 4u);
  EXPECT_EQ(r.replica_digest, r.outcome.model_digest);
}

TEST(ModelState, WarmUpEmaStartsAtTheInitialWeightsAndFollowsEveryNthVersion) {
  scenario sc = toy_scenario();
  sc.train.ema_decay = 0.9;
  sc.train.ema_every = 2;
  sc.train.ema_warmup = true;
  auto w = build_world(sc, toy_data(120, 30));
  ASSERT_TRUE(w.ok());
  model_state m = initial_model(**w);
  const std::vector<float> w0(m.replica->params.begin(), m.replica->params.end());
  EXPECT_EQ(m.ema, w0) << "torch_ema's average starts from the initial weights";
  tbb::task_arena arena(1);
  const size_t k = static_cast<size_t>(sc.baffle.k);
  std::vector<float> expected = w0;
  for (uint64_t v = 1; v <= 4; ++v) {
    model_update u;
    u.version = v;
    u.step = static_cast<int64_t>(v);
    u.seeds = {100 + v};
    u.coefficients.assign(k, 0.05);
    ASSERT_TRUE(apply_update(m, **w, u, arena));
    if (v % 2 == 0) {
      // The n-th EMA update (n = v / 2) by hand: decay 2/11 at n = 1, 3/12 at n = 2.
      const float d = v == 2 ? 2.f / 11.f : 3.f / 12.f;
      for (size_t i = 0; i < expected.size(); ++i)
        expected[i] = d * expected[i] + (1.f - d) * m.replica->params[i];
    }
    ASSERT_EQ(m.ema.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
      ASSERT_NEAR(m.ema[i], expected[i], 1e-6f * (1.f + std::abs(expected[i])))
          << "version " << v << " parameter " << i;
    EXPECT_NE(m.ema, std::vector<float>(m.replica->params.begin(), m.replica->params.end()));
  }
}

TEST(ModelState, UpdatesOutOfOrderOrOfTheWrongShapeAreRefused) {
  auto w = build_world(toy_scenario(), toy_data(120, 30));
  ASSERT_TRUE(w.ok());
  model_state m = initial_model(**w);
  const std::string before = params_digest(m.replica->view());
  tbb::task_arena arena(1);
  const size_t k = static_cast<size_t>((*w)->sc.baffle.k);
  model_update u;
  u.version = 2;  // from the future: the model is at version 0
  u.step = 1;
  u.seeds = {7};
  u.coefficients.assign(k, 0.1);
  EXPECT_FALSE(apply_update(m, **w, u, arena));
  u.version = 1;
  u.coefficients.assign(k - 1, 0.1);  // not K per seed
  EXPECT_FALSE(apply_update(m, **w, u, arena));
  EXPECT_EQ(params_digest(m.replica->view()), before);
  EXPECT_EQ(m.replica->version, 0u);
  u.coefficients.assign(k, 0.1);
  EXPECT_TRUE(apply_update(m, **w, u, arena));
  EXPECT_EQ(m.replica->version, 1u);
  EXPECT_FALSE(apply_update(m, **w, u, arena)) << "the same version twice";

  dense_update d;
  d.version = 2;
  d.step = 2;
  d.values.assign(m.replica->params.size() + 1, 0.0);  // the wrong size
  EXPECT_FALSE(apply_update(m, **w, d));
  EXPECT_EQ(m.replica->version, 1u);
}

}  // namespace
}  // namespace baffle
