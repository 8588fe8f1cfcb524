// Tests for actors/node.hpp: runs give the same results with any number of in-process nodes and
// threads, for every policy and algorithm; a node whose replica drifts from the server's is
// named at the next digest check; updates out of order and tasks for foreign clients are refused;
// a task computes on the version it names even when the next update arrives while it computes.
#include "actors/node.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <sstream>

#include "actors/client.hpp"
#include "actors/run.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

/// Every output of a run that must not depend on nodes or threads, as text.
struct recording_sink final : metrics_sink {
  std::ostringstream text;
  void on_round(const round_record& r) override {
    text << "round " << r.round << ' ' << r.end_time.ns << ' ' << r.train_loss << ' '
         << r.test_acc.value_or(-1) << ' ' << r.test_loss.value_or(-1) << ' ' << r.selected << ' '
         << r.participants << ' ' << r.dropped << ' ' << r.late << ' ' << r.stale_max << ' '
         << r.bytes_up << ' ' << r.bytes_down << ' ' << r.forward_passes << '\n';
  }
  void on_clients(const std::vector<client_record>& clients) override {
    for (const auto& c : clients)
      text << "client " << c.client << ' ' << c.selected << ' ' << c.participated << ' '
           << c.dropped << ' ' << c.late << ' ' << c.staleness_sum << ' ' << c.compute_time.ns
           << ' ' << c.link_time.ns << '\n';
  }
  void on_events(const std::vector<event_record>& events) override {
    for (const auto& e : events) text << format_event(e) << '\n';
  }
};

scenario fleet(policy_kind policy, algorithm_kind algorithm) {
  scenario sc = toy_scenario();
  sc.train.rounds = 5;
  sc.train.algorithm = algorithm;
  sc.clients.count = 7;
  sc.clients.per_round = 4;
  sc.clients.dropout = 0.15;
  sc.clients.compute.spread = distribution::uniform(0.5, 1.5);
  sc.server.policy = policy;
  if (policy == policy_kind::deadline) sc.server.deadline = sim_time::from_ms(400);
  if (policy == policy_kind::first_m) sc.server.over_select = 1.5;
  if (policy == policy_kind::async) {
    sc.server.concurrency = 5;
    sc.server.buffer = 2;
    if (algorithm == algorithm_kind::baffle) sc.baffle.download = download_mode::replay;
  }
  return sc;
}

/// Node `id` of `nodes` alone in an actor system of its own, with a scoped actor to ask it; the
/// node is told to exit at the end.
struct lone_node {
  caf::actor_system_config cfg;
  tbb::task_arena arena{1};
  std::optional<caf::actor_system> sys;
  std::optional<caf::scoped_actor> self;
  node_actor node;
  lone_node(const std::shared_ptr<const world>& w, uint32_t id, uint32_t nodes) {
    configure_actor_system(cfg, 1);
    sys.emplace(cfg);
    node = sys->spawn(node_behavior, id, nodes, w, &arena, nullptr);
    self.emplace(*sys);
  }
  ~lone_node() { (*self)->send_exit(node, caf::exit_reason::user_shutdown); }
};

TEST(Nodes, EveryPolicyAndAlgorithmGivesTheSameRunWithOneTwoOrThreeNodes) {
  for (policy_kind policy :
       {policy_kind::sync, policy_kind::deadline, policy_kind::first_m, policy_kind::async}) {
    for (algorithm_kind algorithm :
         {algorithm_kind::baffle, algorithm_kind::fedsgd, algorithm_kind::fedavg}) {
      auto w = build_world(fleet(policy, algorithm), toy_data(280, 60));
      ASSERT_TRUE(w.ok());
      const std::string what =
          std::string(name_of(policy)) + " / " + std::string(name_of(algorithm));
      std::string reference_text;
      run_outcome reference;
      for (int nodes : {1, 2, 3}) {
        for (int threads : {1, 2}) {
          recording_sink sink;
          run_options opt{threads};
          opt.nodes = nodes;
          opt.verify_every = 1;  // every node's digest against the server's after every update
          const run_outcome o = run_simulation(*w, opt, &sink);
          ASSERT_TRUE(o.error.empty()) << what << ", " << nodes << " nodes: " << o.error;
          if (nodes == 1 && threads == 1) {
            reference = o;
            reference_text = sink.text.str();
            continue;
          }
          const std::string run = what + ", " + std::to_string(nodes) + " nodes, " +
                                  std::to_string(threads) + " threads";
          EXPECT_EQ(o.model_digest, reference.model_digest) << run;
          EXPECT_EQ(o.sim_time_s, reference.sim_time_s) << run;
          EXPECT_EQ(o.bytes_down_total, reference.bytes_down_total) << run;
          EXPECT_EQ(sink.text.str(), reference_text) << run;
        }
      }
    }
  }
}

TEST(Nodes, ThePerturbationCacheChangesNoResult) {
  // Sync and async (whose dispatches carry seeds of their own), shared and per-client seeds,
  // forward and central: the cache off, and on, with one or two nodes, give the same run.
  for (policy_kind policy : {policy_kind::sync, policy_kind::async}) {
    for (seed_mode seeds : {seed_mode::shared, seed_mode::per_client}) {
      for (fd_scheme scheme : {fd_scheme::forward, fd_scheme::central}) {
        std::string reference_text, reference_digest;
        for (int mb : {0, 1, 256}) {
          for (int nodes : {1, 2}) {
            scenario sc = fleet(policy, algorithm_kind::baffle);
            sc.baffle.seeds = seeds;
            sc.baffle.scheme = scheme;
            sc.run.perturbation_cache_mb = mb;
            auto w = build_world(sc, toy_data(280, 60));
            ASSERT_TRUE(w.ok());
            recording_sink sink;
            run_options opt{2};
            opt.nodes = nodes;
            const run_outcome o = run_simulation(*w, opt, &sink);
            ASSERT_TRUE(o.error.empty()) << o.error;
            if (reference_digest.empty()) {
              reference_digest = o.model_digest;
              reference_text = sink.text.str();
              continue;
            }
            const std::string run = std::string(name_of(policy)) + ", " +
                                    std::string(name_of(seeds)) + ", " +
                                    std::string(name_of(scheme)) + ", " + std::to_string(mb) +
                                    " MB, " + std::to_string(nodes) + " nodes";
            EXPECT_EQ(o.model_digest, reference_digest) << run;
            EXPECT_EQ(sink.text.str(), reference_text) << run;
          }
        }
      }
    }
  }
}

TEST(Nodes, AReplicaThatDriftsIsNamedAtTheNextDigestCheck) {
  // The scenario's keys choose the nodes and the check cadence (run options left at 0).
  scenario sc = fleet(policy_kind::sync, algorithm_kind::baffle);
  sc.run.nodes = 3;
  sc.run.verify_every = 2;
  auto w = build_world(sc, toy_data(280, 60));
  ASSERT_TRUE(w.ok());
  caf::actor_system_config cfg;
  configure_actor_system(cfg, 2);
  tbb::task_arena arena(1);  // before the system: clients may still compute when the run fails
  workspace_pool pool;
  caf::actor_system sys{cfg};
  const run_options opt{1};
  auto f = spawn_federation(sys, *w, nullptr, &arena, &pool, &opt);
  ASSERT_EQ(f.nodes.size(), 3u);
  // Node 1's replica: the initial model with one weight changed, at the right version.
  model_state wrong = initial_model(**w);
  wrong.replica->params[17] += 1e-3f;
  caf::scoped_actor self{sys};
  self->request(f.nodes[1], caf::infinite, snapshot_of(wrong))
      .receive([](uint64_t version) { EXPECT_EQ(version, 0u); },
               [](const caf::error& e) { FAIL() << caf::to_string(e); });
  run_outcome o;
  self->request(f.server, caf::infinite, run_atom::value)
      .receive([&](const run_outcome& r) { o = r; },
               [](const caf::error& e) { FAIL() << caf::to_string(e); });
  EXPECT_NE(o.error.find("node 1: its replica's digest"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find("at model version 2"), std::string::npos) << o.error;
  EXPECT_LT(o.rounds, 5);
  self->send_exit(f.server, caf::exit_reason::user_shutdown);
  for (auto& n : f.nodes) self->send_exit(n, caf::exit_reason::user_shutdown);
}

TEST(Nodes, RefuseUpdatesOutOfOrderAndTasksForOtherNodesClients) {
  auto w = build_world(fleet(policy_kind::sync, algorithm_kind::baffle), toy_data(280, 60));
  ASSERT_TRUE(w.ok());
  lone_node f(*w, 1, 2);
  auto& node = f.node;
  auto& self = *f.self;
  std::string text = "accepted";
  const auto on_error = [&](const caf::error& e) { text = e.context().get_as<std::string>(0); };
  model_update future;
  future.version = 3;
  future.step = 3;
  future.seeds = {1};
  future.coefficients.assign(static_cast<size_t>((*w)->sc.baffle.k), 0.0);
  self->request(node, caf::infinite, future).receive([](uint64_t) {}, on_error);
  EXPECT_EQ(text,
            "node 1: update to version 3 refused: the replica holds version 0 (updates must come "
            "in order)");
  node_round_task task;
  task.client = 2;  // client 2 lives on node 0 of 2
  text = "accepted";
  self->request(node, caf::infinite, task).receive([](const round_result&) {}, on_error);
  EXPECT_EQ(text, "node 1: client 2 does not live on this node");
}

TEST(Nodes, ASeedPoolSnapshotIsTakenOnlyWithCoefficientsThatRebuildItsWeights) {
  scenario sc = fleet(policy_kind::sync, algorithm_kind::baffle);
  sc.train.optimizer = optimizer_kind::sgd;
  sc.train.weight_decay = 0.0;
  sc.baffle.seed_pool = 3;
  auto w = build_world(sc, toy_data(280, 60));
  ASSERT_TRUE(w.ok());
  lone_node f(*w, 0, 1);
  auto& node = f.node;
  auto& self = *f.self;
  const model_state initial = initial_model(**w);
  const std::string initial_digest = params_digest(initial.replica->view());
  // Weights that moved, with the initial (zero) coefficients, which do not describe them.
  model_snapshot snap = snapshot_of(initial);
  snap.version = 4;
  for (size_t i = 0; i < snap.params.size(); ++i)
    snap.params[i] += 1e-3f * static_cast<float>(i % 7);
  std::string text = "accepted";
  const auto on_error = [&](const caf::error& e) { text = e.context().get_as<std::string>(0); };
  self->request(node, caf::infinite, snap).receive([](uint64_t) {}, on_error);
  EXPECT_NE(text.find("do not rebuild"), std::string::npos) << text;
  snap.pool_coefficients.clear();
  text = "accepted";
  self->request(node, caf::infinite, snap).receive([](uint64_t) {}, on_error);
  EXPECT_NE(text.find("without the seed pool's coefficients"), std::string::npos) << text;
  // Refused snapshots changed nothing: the replica is still the initial model at version 0.
  self->request(node, caf::infinite, verify_atom::value, uint64_t{0})
      .receive([&](const std::string& digest) { EXPECT_EQ(digest, initial_digest); },
               [](const caf::error& e) { FAIL() << caf::to_string(e); });
  // The initial model's own snapshot, coefficients and all, is taken.
  model_snapshot good = snapshot_of(initial);
  ASSERT_FALSE(good.pool_coefficients.empty());
  uint64_t held = 99;
  self->request(node, caf::infinite, good)
      .receive([&](uint64_t v) { held = v; },
               [](const caf::error& e) { FAIL() << caf::to_string(e); });
  EXPECT_EQ(held, 0u);
}

TEST(Nodes, ATaskComputesOnItsVersionWhileTheNextUpdateWaits) {
  auto w = build_world(fleet(policy_kind::async, algorithm_kind::baffle), toy_data(280, 60));
  ASSERT_TRUE(w.ok());
  caf::actor_system_config cfg;
  configure_actor_system(cfg, 2);
  tbb::task_arena arena(2);
  caf::actor_system sys{cfg};
  auto node = sys.spawn(node_behavior, uint32_t{0}, uint32_t{1}, *w, &arena, nullptr);
  caf::scoped_actor self{sys};
  // What the client computes on version 0 and, after the update, on version 1 (computed here
  // directly on replicas of our own).
  model_state m0 = initial_model(**w);
  model_update u;
  u.version = 1;
  u.step = 1;
  u.seeds = {77};
  u.coefficients.assign(static_cast<size_t>((*w)->sc.baffle.k), 0.5);
  model_state m1 = initial_model(**w);
  ASSERT_TRUE(apply_update(m1, **w, u, arena));
  round_task t0;
  t0.round = 1;
  t0.model_version = 0;
  t0.k = static_cast<uint32_t>((*w)->sc.baffle.k);
  t0.sigma = 1e-3f;
  t0.batch_size = static_cast<uint32_t>((*w)->sc.train.batch_size);
  round_task t1 = t0;
  t1.round = 2;
  t1.model_version = 1;
  const client_state on0{3, *w, m0.replica, &arena};
  const client_state on1{3, *w, m1.replica, &arena};
  const round_result want0 = compute_round(on0, t0);
  const round_result want1 = compute_round(on1, t1);
  ASSERT_NE(want0.scalars, want1.scalars);
  // Sent back to back: the update reaches the node while the first task may still compute; the
  // node holds it (and the task after it) until the first task is done.
  std::vector<std::string> order;
  round_result got0, got1;
  self->send(node, node_round_task{3, t0});
  self->send(node, u);
  self->send(node, node_round_task{3, t1});
  for (int i = 0; i < 3; ++i) {
    self->receive(
        [&](round_result& r) {
          order.push_back("result " + std::to_string(r.round));
          (r.round == 1 ? got0 : got1) = std::move(r);
        },
        [&](uint64_t version) { order.push_back("update " + std::to_string(version)); },
        [&](caf::error& e) { order.push_back("error " + sys.render(e)); },
        // Only a guard against hanging the suite if a reply never comes.
        caf::after(std::chrono::minutes(5)) >> [&] { order.push_back("no reply"); });
  }
  EXPECT_EQ(order, (std::vector<std::string>{"result 1", "update 1", "result 2"}));
  EXPECT_EQ(got0.scalars, want0.scalars);
  EXPECT_EQ(got1.scalars, want1.scalars);
  self->send_exit(node, caf::exit_reason::user_shutdown);
}

TEST(Nodes, KeepOneClientActorPerRunningTaskAndReuseTheIdleOnes) {
  auto w = build_world(fleet(policy_kind::sync, algorithm_kind::baffle), toy_data(280, 60));
  ASSERT_TRUE(w.ok());
  lone_node n(*w, 0, 1);
  auto& self = *n.self;
  const size_t before = n.sys->registry().running();  // the node (and the scoped actor)
  round_task t;
  t.round = 1;
  t.k = static_cast<uint32_t>((*w)->sc.baffle.k);
  t.sigma = static_cast<float>((*w)->sc.baffle.sigma);
  t.batch_size = static_cast<uint32_t>((*w)->sc.train.batch_size);
  const auto answer = [&] {
    std::string got = "no reply";
    self->receive([&](const round_result& r) { got = "client " + std::to_string(r.client); },
                  [&](const caf::error& e) { got = n.sys->render(e); },
                  // Only a guard against hanging the suite if a reply never comes.
                  caf::after(std::chrono::minutes(5)) >> [] {});
    return got;
  };
  // One task at a time: one client actor does them all, for whichever client each names.
  for (const uint32_t client : {1u, 4u, 6u}) {
    self->send(n.node, node_round_task{client, t});
    EXPECT_EQ(answer(), "client " + std::to_string(client));
    EXPECT_EQ(n.sys->registry().running(), before + 1) << "after the task of client " << client;
  }
  // Three at once: three actors while they compute, kept afterwards for the next tasks.
  std::set<std::string> answers;
  for (const uint32_t client : {0u, 2u, 5u}) self->send(n.node, node_round_task{client, t});
  for (int i = 0; i < 3; ++i) answers.insert(answer());
  EXPECT_EQ(answers, (std::set<std::string>{"client 0", "client 2", "client 5"}));
  const size_t busiest = n.sys->registry().running();
  EXPECT_GE(busiest, before + 1);
  EXPECT_LE(busiest, before + 3);
  self->send(n.node, node_round_task{3, t});
  EXPECT_EQ(answer(), "client 3");
  EXPECT_EQ(n.sys->registry().running(), busiest);
  // Its client actors end with the node: none outlives it.
  self->monitor(n.node);
  self->send_exit(n.node, caf::exit_reason::user_shutdown);
  self->receive([](const caf::down_msg&) {}, caf::after(std::chrono::minutes(5)) >> [] {});
  EXPECT_EQ(n.sys->registry().running(), before - 1);
}

}  // namespace
}  // namespace baffle
