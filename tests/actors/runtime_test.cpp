// Tests for actors/runtime.hpp: every attached sink sees the same reports, runs in one runtime
// are independent of each other, and the network layer loads when asked for.
#include "actors/runtime.hpp"

#include <gtest/gtest.h>

#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

struct counting_sink final : metrics_sink {
  std::vector<int64_t> rounds;
  size_t clients = 0;
  size_t events = 0;
  void on_round(const round_record& r) override { rounds.push_back(r.round); }
  void on_clients(const std::vector<client_record>& c) override { clients = c.size(); }
  void on_events(const std::vector<event_record>& e) override { events += e.size(); }
};

TEST(Runtime, EveryAttachedSinkSeesEveryReportAndRunsRepeatExactly) {
  auto w = build_world(toy_scenario(), toy_data(120, 30));
  ASSERT_TRUE(w.ok());
  runtime rt({2, false});
  counting_sink a, b;
  rt.attach(&a);
  rt.attach(&b);
  const run_outcome first = rt.run(*w, run_options{2});
  ASSERT_TRUE(first.error.empty()) << first.error;
  EXPECT_EQ(a.rounds, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(a.rounds, b.rounds);
  EXPECT_EQ(a.clients, 4u);
  EXPECT_EQ(a.events, b.events);
  EXPECT_GT(a.events, 0u);
  // A second run in the same runtime (its own federation) gives the same model.
  const run_outcome second = rt.run(*w, run_options{2});
  EXPECT_EQ(second.model_digest, first.model_digest);
  EXPECT_EQ(a.rounds.size(), 6u);
  EXPECT_FALSE(rt.has_network());
}

TEST(Runtime, LoadsTheNetworkLayerWhenAskedFor) {
  runtime rt({1, true});
  EXPECT_TRUE(rt.has_network());
  EXPECT_TRUE(rt.system().has_middleman());
}

}  // namespace
}  // namespace baffle
