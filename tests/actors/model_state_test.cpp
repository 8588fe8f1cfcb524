// Tests for actors/model_state.hpp: a replica fed the server's updates, in order, through the same
// apply_update holds the server's final model bit for bit, for every policy and algorithm; and
// updates out of order or of the wrong shape are refused in every build type.
#include "actors/model_state.hpp"

#include <gtest/gtest.h>

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

TEST(ModelState, PerClientSeedsReplayToo) {
  scenario sc = toy_scenario();
  sc.train.rounds = 4;
  sc.baffle.seeds = seed_mode::per_client;
  const replayed r = run_and_replay(sc);
  EXPECT_EQ(r.updates, 4u);
  EXPECT_EQ(r.replica_digest, r.outcome.model_digest);
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
