// Golden event traces: a tiny heterogeneous fleet (uniform latencies and speeds, stragglers,
// jitter, dropout) under each server policy (async with max_staleness 1); the events (dispatch, dropout, arrival, late,
// aggregation, with virtual times) must match tests/actors/golden/events_<policy>.txt exactly.
// Regenerate after an intended change with BAFFLE_UPDATE_GOLDEN=1 and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "actors/run.hpp"
#include "actors/server.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

struct event_sink final : metrics_sink {
  std::string text;
  void on_round(const round_record&) override {}
  void on_events(const std::vector<event_record>& events) override {
    for (const auto& e : events) text += format_event(e) + "\n";
  }
};

std::string trace(const std::string& policy) {
  scenario sc = toy_scenario();
  sc.train.rounds = 4;
  sc.train.eval_every = 4;
  sc.clients.count = 8;
  sc.clients.per_round = 4;
  sc.clients.dropout = 0.3;
  // Uniform draws only: no transcendental functions, so the times are exact on any libm.
  sc.clients.link.latency = distribution::uniform(0.02, 0.12);
  sc.clients.link.up_bytes_per_sec = 2000;
  sc.clients.compute.spread = distribution::uniform(0.5, 1.5);
  sc.clients.compute.stragglers = 0.25;
  sc.clients.compute.straggler_slowdown = 4;
  sc.clients.compute.jitter = 0.1;
  sc.server.policy = *parse_name<policy_kind>(policy);
  if (sc.server.policy == policy_kind::deadline) sc.server.deadline = sim_time::from_ms(200);
  if (sc.server.policy == policy_kind::first_m) sc.server.over_select = 1.5;
  if (sc.server.policy == policy_kind::async) {
    sc.server.concurrency = 4;
    sc.server.buffer = 2;
    sc.server.max_staleness = 1;
  }
  auto w = build_world(sc, toy_data(200, 40));
  EXPECT_TRUE(w.ok());
  event_sink sink;
  run_simulation(*w, run_options{2}, &sink);
  return sink.text;
}

void expect_golden(const std::string& policy) {
  const char* src = std::getenv("BAFFLE_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "run through ctest (BAFFLE_SOURCE_DIR)";
  const std::string path = std::string(src) + "/tests/actors/golden/events_" + policy + ".txt";
  const std::string got = trace(policy);
  ASSERT_FALSE(got.empty());
  if (std::getenv("BAFFLE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << got;
    GTEST_SKIP() << "wrote " << path;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << path << " is missing; run with BAFFLE_UPDATE_GOLDEN=1 to create it";
  std::stringstream want;
  want << in.rdbuf();
  // Report the first differing line, not two whole traces.
  std::istringstream a(want.str()), b(got);
  std::string la, lb;
  int line = 0;
  while (true) {
    const bool ha = static_cast<bool>(std::getline(a, la));
    const bool hb = static_cast<bool>(std::getline(b, lb));
    ++line;
    if (!ha && !hb) break;
    ASSERT_EQ(ha ? la : "<end>", hb ? lb : "<end>") << path << " line " << line;
  }
}

TEST(EventTrace, SyncMatchesGolden) {
  expect_golden("sync");
}
TEST(EventTrace, DeadlineMatchesGolden) {
  expect_golden("deadline");
}
TEST(EventTrace, FirstMMatchesGolden) {
  expect_golden("first-m");
}

TEST(EventTrace, AsyncMatchesGolden) {
  expect_golden("async");
}

TEST(EventTrace, IsInVirtualTimeOrderAndCoversEveryFate) {
  for (const char* policy : {"sync", "deadline", "first-m", "async"}) {
    const std::string t = trace(policy);
    std::istringstream in(t);
    std::string line;
    double last = -1;
    while (std::getline(in, line)) {
      const double time = std::stod(line.substr(0, line.find(' ')));
      EXPECT_GE(time, last) << policy << ": " << line;
      last = time;
    }
    EXPECT_NE(t.find(" dropout"), std::string::npos) << policy;
    if (parse_name<policy_kind>(policy) != policy_kind::sync) {
      EXPECT_NE(t.find(" late "), std::string::npos) << policy;
    }
  }
}

}  // namespace
}  // namespace baffle
