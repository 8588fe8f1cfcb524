// Availability traces (FedScale style): the server selects only clients online when the round
// starts, and a client that goes offline before its result arrives counts as dropped.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "actors/round_plan.hpp"
#include "actors/run.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

struct collecting_sink final : metrics_sink {
  std::vector<round_record> rounds;
  void on_round(const round_record& r) override { rounds.push_back(r); }
};

class Availability : public testing::Test {
 protected:
  void SetUp() override {
    trace_ = std::filesystem::path(testing::TempDir()) / "availability_trace.csv";
    // Client 0 is offline until 1 s; client 1 is online until 50 ms, i.e. during round 1's
    // computation (arrivals are at 100 ms + compute); clients 2 and 3 are always online.
    std::ofstream(trace_) << "client,time,state\n0,0,off\n0,1s,on\n1,50ms,off\n";
  }
  void TearDown() override { std::filesystem::remove(trace_); }

  std::shared_ptr<const world> make_world() {
    scenario sc = toy_scenario();
    sc.clients.count = 4;
    sc.clients.per_round = 4;
    sc.train.rounds = 1;
    sc.clients.availability_trace = trace_.string();
    auto w = build_world(sc, toy_data(200, 40));
    EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error());
    return w.ok() ? *w : nullptr;
  }

  std::filesystem::path trace_;
};

TEST_F(Availability, OnlyOnlineClientsAreSelected) {
  auto w = make_world();
  ASSERT_TRUE(w);
  EXPECT_EQ(select_online_clients(*w, 1, sim_time{}, 4), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(select_online_clients(*w, 1, sim_time::from_seconds(2), 4),
            (std::vector<uint32_t>{0, 2, 3}));
}

TEST_F(Availability, GoingOfflineBeforeArrivingCountsAsDropped) {
  auto w = make_world();
  ASSERT_TRUE(w);
  round_costs cost;
  cost.task_bytes = 50;
  cost.result_bytes = 100;
  cost.forward_passes = w->sc.baffle.k + 1;
  cost.batch_size = w->sc.train.batch_size;
  const auto plan = plan_round(*w, 1, sim_time{}, {1, 2, 3}, cost);
  EXPECT_EQ(plan.clients[0].fate, client_fate::dropped);
  EXPECT_EQ(plan.counted, 2);

  collecting_sink sink;
  const auto outcome = run_simulation(w, run_options{1}, &sink);
  ASSERT_TRUE(outcome.error.empty()) << outcome.error;
  ASSERT_EQ(sink.rounds.size(), 1u);
  EXPECT_EQ(sink.rounds[0].selected, 3);
  EXPECT_EQ(sink.rounds[0].dropped, 1);
  EXPECT_EQ(sink.rounds[0].participants, 2);
}

TEST_F(Availability, AMalformedTraceIsAnErrorNamingTheKeyAndLine) {
  std::ofstream(trace_) << "client,time,state\n0,10s,maybe\n";
  scenario sc = toy_scenario();
  sc.clients.availability_trace = trace_.string();
  auto w = build_world(sc, toy_data(200, 40));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().find("clients.availability.trace"), std::string::npos) << w.error();
  EXPECT_NE(w.error().find(":2"), std::string::npos) << w.error();
}

}  // namespace
}  // namespace baffle
