// Server policies in virtual time: with hand-set latencies and speeds, exactly the clients that
// arrive in time are counted and the round ends at the hand-computed instant, through the real
// actors under CAF's deterministic test coordinator.
#include "actors/round_plan.hpp"

#include <gtest/gtest.h>

#include "actors/run.hpp"
#include "actors/server.hpp"
#include "models/compute.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

/// Four clients; client c has one-way latency (10 + 10c) ms and 1 GFLOP/s, unlimited bandwidth.
/// Tests set profiles directly; scenario files will do it through [clients.link] distributions.
std::shared_ptr<const world> staggered_world(const std::string& policy, int per_round) {
  scenario sc = toy_scenario();
  sc.clients.count = 4;
  sc.clients.per_round = per_round;
  sc.server.policy = *parse_name<policy_kind>(policy);
  sc.train.rounds = 2;
  sc.baffle.k = 4;
  auto built = build_world(sc, toy_data(200, 40));
  EXPECT_TRUE(built.ok());
  auto w = std::const_pointer_cast<world>(*built);
  for (int c = 0; c < 4; ++c) {
    const link_profile l{sim_time::from_ms(10.0 + 10.0 * c), 0.0};
    w->uplink[c] = l;
    w->downlink[c] = l;
    w->devices[c] = device_profile{1.0};
  }
  return w;
}

round_costs costs_of(const world& w) {
  round_costs c;
  c.task_bytes = 100;
  c.result_bytes = 100;
  c.forward_passes = w.sc.baffle.k + 1;
  c.batch_size = w.sc.train.batch_size;
  return c;
}

/// Compute time of one client's round: (K + 1) forwards on its batch at 1 GFLOP/s.
sim_time compute_of(const world& w) {
  return compute_time(device_profile{1.0},
                      (w.sc.baffle.k + 1) * w.net->forward_flops(w.sc.train.batch_size));
}

TEST(RoundPlan, SyncWaitsForTheSlowestClient) {
  auto w = staggered_world("sync", 4);
  const auto plan = plan_round(*w, 1, sim_time{}, {0, 1, 2, 3}, costs_of(*w));
  EXPECT_EQ(plan.counted, 4);
  // Client 3: 40 ms down + compute + 40 ms up.
  EXPECT_EQ(plan.end, sim_time::from_ms(80) + compute_of(*w));
}

TEST(RoundPlan, LowPrecisionForwardsRunAtTheirOwnDeviceSpeed) {
  auto w = std::const_pointer_cast<world>(staggered_world("sync", 4));
  // bf16 devices twice as fast as in f32: the compute part of the round halves (to the ns).
  w->sc.model.precision = forward_precision::bf16;
  w->sc.clients.compute.gflops_bf16 = 2 * w->sc.clients.compute.gflops;
  w->forward_speed = forward_speed_factor(w->sc);
  EXPECT_EQ(w->forward_speed, 2.0);
  const auto plan = plan_round(*w, 1, sim_time{}, {0, 1, 2, 3}, costs_of(*w));
  EXPECT_EQ(plan.end,
            sim_time::from_ms(80) +
                compute_time(device_profile{2.0},
                             (w->sc.baffle.k + 1) * w->net->forward_flops(w->sc.train.batch_size)));
  // The baselines backprop in f32 whatever model.precision says; f32 keeps the f32 speed.
  w->sc.train.algorithm = algorithm_kind::fedavg;
  EXPECT_EQ(forward_speed_factor(w->sc), 1.0);
  w->sc.train.algorithm = algorithm_kind::baffle;
  w->sc.model.precision = forward_precision::f32;
  EXPECT_EQ(forward_speed_factor(w->sc), 1.0);
  w->sc.model.precision = forward_precision::int8;
  w->sc.clients.compute.gflops_int8 = 4 * w->sc.clients.compute.gflops;
  EXPECT_EQ(forward_speed_factor(w->sc), 4.0);
}

TEST(RoundPlan, DeadlineCountsExactlyTheClientsArrivingBeforeIt) {
  scenario sc;
  auto w = std::const_pointer_cast<world>(staggered_world("deadline", 4));
  // Arrivals are 2 * (10 + 10c) ms + compute: 20, 40, 60, 80 ms + compute. A deadline between the
  // third and fourth arrival counts clients 0, 1, 2 and closes the round at the deadline.
  w->sc.server.deadline = sim_time::from_ms(70) + compute_of(*w);
  const auto plan = plan_round(*w, 1, sim_time::from_seconds(5), {0, 1, 2, 3}, costs_of(*w));
  EXPECT_EQ(plan.counted, 3);
  EXPECT_EQ(plan.late, 1);
  EXPECT_EQ(plan.clients[3].fate, client_fate::late);
  EXPECT_EQ(plan.end, sim_time::from_seconds(5) + w->sc.server.deadline);
  // A generous deadline: everyone is in, and the server closes when the last arrives.
  w->sc.server.deadline = sim_time::from_seconds(100);
  const auto all = plan_round(*w, 1, sim_time{}, {0, 1, 2, 3}, costs_of(*w));
  EXPECT_EQ(all.counted, 4);
  EXPECT_EQ(all.end, sim_time::from_ms(80) + compute_of(*w));
}

TEST(RoundPlan, FirstMKeepsTheEarliestArrivalsAndEndsAtTheMth) {
  auto w = std::const_pointer_cast<world>(staggered_world("first-m", 2));
  w->sc.server.over_select = 2.0;
  EXPECT_EQ(selection_size(w->sc), 4);
  const auto plan = plan_round(*w, 1, sim_time{}, {0, 1, 2, 3}, costs_of(*w));
  EXPECT_EQ(plan.counted, 2);
  EXPECT_EQ(plan.late, 2);
  EXPECT_EQ(plan.clients[0].fate, client_fate::counted);
  EXPECT_EQ(plan.clients[1].fate, client_fate::counted);
  EXPECT_EQ(plan.end, sim_time::from_ms(40) + compute_of(*w));
}

struct collecting_sink final : metrics_sink {
  std::vector<round_record> rounds;
  void on_round(const round_record& r) override { rounds.push_back(r); }
};

TEST(RoundPlan, DeadlineRunThroughTheActorsMatchesTheHandComputation) {
  enter_compute_thread();
  auto w = std::const_pointer_cast<world>(staggered_world("deadline", 4));
  const sim_time deadline = sim_time::from_ms(70) + compute_of(*w);
  w->sc.server.deadline = deadline;
  caf::actor_system_config cfg;
  add_message_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  tbb::task_arena arena(1);
  collecting_sink sink;
  auto f = spawn_federation(sys, w, &sink, &arena);
  caf::anon_send(f.server, run_atom::value);
  sched.run();
  ASSERT_EQ(sink.rounds.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& r = sink.rounds[i];
    EXPECT_EQ(r.selected, 4);
    EXPECT_EQ(r.participants, 3);
    EXPECT_EQ(r.late, 1);
    EXPECT_EQ(r.dropped, 0);
    EXPECT_EQ(r.forward_passes, 3 * (w->sc.baffle.k + 1));
    EXPECT_EQ(r.wasted_forward_passes, w->sc.baffle.k + 1);
    // Every round lasts exactly the deadline.
    EXPECT_EQ(r.end_time.ns, static_cast<int64_t>(i + 1) * deadline.ns);
  }
  caf::anon_send_exit(f.server, caf::exit_reason::user_shutdown);
  for (auto& n : f.nodes) caf::anon_send_exit(n, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST(ForwardSpeed, UnsetLowPrecisionSpeedsAreTheF32SpeedEvenForScenariosBuiltInCode) {
  scenario sc;
  sc.model.precision = forward_precision::int8;
  sc.clients.compute.gflops = 3;  // gflops_int8 left at 0: as fast as f32
  EXPECT_EQ(forward_speed_factor(sc), 1.0);
  sc.clients.compute.gflops_int8 = 12;
  EXPECT_EQ(forward_speed_factor(sc), 4.0);
  sc.train.algorithm = algorithm_kind::fedsgd;  // the baselines backprop in f32
  EXPECT_EQ(forward_speed_factor(sc), 1.0);
}

}  // namespace
}  // namespace baffle
