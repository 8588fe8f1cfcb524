// The async (FedBuff) policy and the model download modes: an analytic two-client timeline with
// hand-computed update times and staleness, max_staleness discards, staleness weights, thread
// independence for all three algorithms, availability starvation, and the bytes and time of
// downloading weights or replaying missed updates.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "actors/round_plan.hpp"
#include "actors/run.hpp"
#include "actors/server.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

struct collecting_sink final : metrics_sink {
  std::vector<round_record> rounds;
  std::vector<client_record> clients;
  std::string events;
  void on_round(const round_record& r) override { rounds.push_back(r); }
  void on_clients(const std::vector<client_record>& c) override { clients = c; }
  void on_events(const std::vector<event_record>& ev) override {
    for (const auto& e : ev) events += format_event(e) + "\n";
  }
};

TEST(StalenessWeight, FollowsTheConstantPolyAndHingeFormulas) {
  server_config s;
  s.staleness = staleness_kind::constant;
  EXPECT_EQ(staleness_weight(s, 0), 1.0);
  EXPECT_EQ(staleness_weight(s, 50), 1.0);
  s.staleness = staleness_kind::poly;
  s.staleness_exponent = 0.5;
  EXPECT_EQ(staleness_weight(s, 0), 1.0);
  EXPECT_DOUBLE_EQ(staleness_weight(s, 3), 0.5);  // (1 + 3)^-0.5
  s.staleness_exponent = 1.0;
  EXPECT_DOUBLE_EQ(staleness_weight(s, 4), 0.2);
  s.staleness = staleness_kind::hinge;
  s.staleness_exponent = 10;
  s.staleness_hinge = 4;
  EXPECT_EQ(staleness_weight(s, 4), 1.0);
  EXPECT_DOUBLE_EQ(staleness_weight(s, 5), 1.0 / 11.0);  // 1 / (10 (5 - 4) + 1)
  EXPECT_DOUBLE_EQ(staleness_weight(s, 6), 1.0 / 21.0);
}

/// Two clients, constant 50 ms latencies, no bandwidth limit; one straggler three times slower.
/// concurrency 2, buffer 1: every arrival is one update.
struct two_clients {
  std::shared_ptr<const world> w;
  uint32_t fast = 0, slow = 1;
  sim_time t_fast, t_slow;  ///< a round trip of each (dispatch to arrival)
};

two_clients make_two_clients(int max_staleness) {
  scenario sc = toy_scenario();
  sc.clients.count = 2;
  sc.clients.per_round = 2;
  sc.clients.compute.stragglers = 0.5;
  sc.clients.compute.straggler_slowdown = 3;
  sc.server.policy = policy_kind::async;
  sc.server.concurrency = 2;
  sc.server.buffer = 1;
  sc.server.max_staleness = max_staleness;
  sc.train.rounds = 4;
  sc.train.eval_every = 4;
  two_clients t;
  // Compute of 0.2 s for the fast client: its 0.3 s round trip makes the slow one (0.1 + 0.6 s)
  // arrive strictly between the fast one's second and third arrivals.
  auto probe = build_world(sc, toy_data(200, 40));
  EXPECT_TRUE(probe.ok());
  const double flops = (sc.baffle.k + 1) * (*probe)->net->forward_flops(sc.train.batch_size);
  sc.clients.compute.gflops = flops / 0.2 / 1e9;
  auto built = build_world(sc, toy_data(200, 40));
  EXPECT_TRUE(built.ok());
  t.w = *built;
  if (t.w->devices[0].gflops < t.w->devices[1].gflops) std::swap(t.fast, t.slow);
  const sim_time lat = sim_time::from_ms(50);
  t.t_fast = lat + lat + compute_time(t.w->devices[t.fast], flops);
  t.t_slow = lat + lat + compute_time(t.w->devices[t.slow], flops);
  return t;
}

TEST(Async, UpdatesHappenAtHandComputedTimesWithHandComputedStaleness) {
  const two_clients t = make_two_clients(0);
  ASSERT_LT(t.t_fast + t.t_fast, t.t_slow);
  ASSERT_LT(t.t_slow, t.t_fast + t.t_fast + t.t_fast);
  collecting_sink s;
  const auto o = run_simulation(t.w, run_options{2}, &s);
  ASSERT_TRUE(o.error.empty()) << o.error;
  ASSERT_EQ(s.rounds.size(), 4u);
  // Fast arrives at T_f and 2 T_f (fresh: it was re-sent each time on the newest model); slow,
  // sent at 0 on version 0, arrives at T_s after two updates; fast's third result, sent at 2 T_f
  // on version 2, arrives at 3 T_f after the slow update: staleness 1.
  const sim_time want_end[] = {t.t_fast, t.t_fast + t.t_fast, t.t_slow,
                               t.t_fast + t.t_fast + t.t_fast};
  const int64_t want_stale[] = {0, 0, 2, 1};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(s.rounds[i].end_time, want_end[i]) << "update " << i + 1;
    EXPECT_EQ(s.rounds[i].stale_max, want_stale[i]) << "update " << i + 1;
    EXPECT_EQ(s.rounds[i].stale_mean, static_cast<double>(want_stale[i]));
    EXPECT_EQ(s.rounds[i].participants, 1);
    EXPECT_EQ(s.rounds[i].late, 0);
  }
  // Dispatches: both at 0 in update 1's interval; each later one right after an update, on the
  // new model, so in the next interval.
  EXPECT_EQ(s.rounds[0].selected, 2);
  EXPECT_EQ(s.rounds[1].selected, 1);
  EXPECT_EQ(o.sim_time_s, want_end[3].seconds());
  ASSERT_EQ(s.clients.size(), 2u);
  EXPECT_EQ(s.clients[t.fast].participated, 3);
  EXPECT_EQ(s.clients[t.slow].participated, 1);
  EXPECT_EQ(s.clients[t.slow].staleness_sum, 2);
  EXPECT_EQ(s.clients[t.fast].staleness_sum, 1);
}

TEST(Async, ResultsStalerThanTheLimitAreDiscardedAndCountedAsWasted) {
  const two_clients t = make_two_clients(1);
  collecting_sink s;
  const auto o = run_simulation(t.w, run_options{2}, &s);
  ASSERT_TRUE(o.error.empty()) << o.error;
  ASSERT_EQ(s.rounds.size(), 4u);
  // The slow result (staleness 2) is given up at T_s; update 3 is fast's at 3 T_f, which was
  // sent on version 2 and is fresh because nothing was applied in between.
  const sim_time three = t.t_fast + t.t_fast + t.t_fast;
  EXPECT_EQ(s.rounds[2].end_time, three);
  EXPECT_EQ(s.rounds[2].late, 1);
  EXPECT_EQ(s.rounds[2].wasted_forward_passes, t.w->sc.baffle.k + 1);
  EXPECT_EQ(s.rounds[2].stale_max, 0);
  EXPECT_EQ(s.clients[t.slow].late, 1);
  const std::string slow_late = "client=" + std::to_string(t.slow) + " late seq=";
  const size_t at = s.events.find(slow_late);
  ASSERT_NE(at, std::string::npos) << s.events;
  EXPECT_NE(s.events.substr(at, s.events.find('\n', at) - at).find("staleness=2"), std::string::npos)
      << s.events;
}

/// A heterogeneous fleet under async: dropout, stragglers, jitter, slow uplinks.
scenario async_fleet(const std::string& algorithm) {
  scenario sc = toy_scenario();
  sc.train.algorithm = *parse_name<algorithm_kind>(algorithm);
  sc.train.rounds = 8;
  sc.train.eval_every = 4;
  sc.clients.count = 8;
  sc.clients.dropout = 0.2;
  sc.clients.link.latency = distribution::uniform(0.02, 0.12);
  sc.clients.link.up_bytes_per_sec = 5000;
  sc.clients.compute.spread = distribution::uniform(0.5, 1.5);
  sc.clients.compute.stragglers = 0.25;
  sc.clients.compute.straggler_slowdown = 4;
  sc.clients.compute.jitter = 0.1;
  sc.server.policy = policy_kind::async;
  sc.server.concurrency = 5;
  sc.server.buffer = 2;
  sc.server.staleness = staleness_kind::hinge;
  sc.server.staleness_exponent = 2;
  sc.server.staleness_hinge = 1;
  return sc;
}

TEST(Async, EveryAlgorithmIsThreadIndependentAndStalenessShows) {
  for (const char* algorithm : {"baffle", "fedsgd", "fedavg"}) {
    auto w = build_world(async_fleet(algorithm), toy_data(300, 60));
    ASSERT_TRUE(w.ok());
    collecting_sink s1, s2;
    const auto a = run_simulation(*w, run_options{1}, &s1);
    const auto b = run_simulation(*w, run_options{2}, &s2);
    ASSERT_TRUE(a.error.empty()) << a.error;
    EXPECT_EQ(a.model_digest, b.model_digest) << algorithm;
    EXPECT_EQ(a.final_test_loss, b.final_test_loss) << algorithm;
    EXPECT_EQ(a.sim_time_s, b.sim_time_s) << algorithm;
    EXPECT_EQ(s1.events, s2.events) << algorithm;
    ASSERT_EQ(s1.rounds.size(), 8u);
    int64_t stale = 0, dropped = 0, selected = 0;
    sim_time last;
    for (const auto& r : s1.rounds) {
      EXPECT_EQ(r.participants, 2) << algorithm;
      EXPECT_GE(r.end_time, last);
      last = r.end_time;
      stale = std::max(stale, r.stale_max);
      dropped += r.dropped;
      selected += r.selected;
    }
    EXPECT_GT(stale, 0) << algorithm;
    EXPECT_GT(dropped, 0) << algorithm;
    int64_t c_selected = 0;
    for (const auto& c : s1.clients) c_selected += c.selected;
    EXPECT_EQ(c_selected, selected) << algorithm;
    // The model moved (an update was applied for every row).
    auto untrained = async_fleet(algorithm);
    untrained.train.rounds = 1;
    auto w1 = build_world(untrained, toy_data(300, 60));
    ASSERT_TRUE(w1.ok());
    EXPECT_NE(run_simulation(*w1, run_options{2}, nullptr).model_digest, a.model_digest);
  }
}

TEST(Async, ToyProblemLearnsWithStaleResults) {
  scenario sc = async_fleet("baffle");
  sc.train.rounds = 120;
  sc.train.eval_every = 120;
  sc.baffle.k = 32;
  auto w = build_world(sc, toy_data(400, 150));
  ASSERT_TRUE(w.ok());
  collecting_sink s;
  const auto o = run_simulation(*w, run_options{2}, &s);
  ASSERT_TRUE(o.error.empty()) << o.error;
  EXPECT_GT(o.final_test_acc, 0.8);
}

class AsyncAvailability : public testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(trace_); }
  std::shared_ptr<const world> world_with(const std::string& trace_text) {
    trace_ = std::filesystem::path(testing::TempDir()) / "async_trace.csv";
    std::ofstream(trace_) << trace_text;
    scenario sc = toy_scenario();
    sc.clients.count = 3;
    sc.server.policy = policy_kind::async;
    sc.server.concurrency = 2;
    sc.server.buffer = 1;
    sc.train.rounds = 3;
    sc.clients.availability_trace = trace_.string();
    auto w = build_world(sc, toy_data(200, 40));
    EXPECT_TRUE(w.ok());
    return w.ok() ? *w : nullptr;
  }
  std::filesystem::path trace_;
};

TEST_F(AsyncAvailability, SlotsWaitForClientsToComeOnline) {
  // Everyone offline until 5 s (a record is a change: before "on" a client is off).
  auto w = world_with("0,5s,on\n1,5s,on\n2,5s,on\n");
  ASSERT_TRUE(w);
  collecting_sink s;
  const auto o = run_simulation(w, run_options{1}, &s);
  ASSERT_TRUE(o.error.empty()) << o.error;
  ASSERT_EQ(s.rounds.size(), 3u);
  EXPECT_EQ(s.events.substr(0, s.events.find(' ')), "5.000000000") << s.events;
  EXPECT_GT(s.rounds[0].end_time, sim_time::from_seconds(5));
}

TEST_F(AsyncAvailability, AFleetWhoseEveryDispatchDropsStopsInsteadOfLooping) {
  // Online 10 ms of every 1 s: a round trip takes over 100 ms, so every dispatch goes offline
  // before its result arrives, forever.
  auto w = world_with("loop,1s\n0,0,on\n0,10ms,off\n1,0,on\n1,10ms,off\n2,0,on\n2,10ms,off\n");
  ASSERT_TRUE(w);
  const auto o = run_simulation(w, run_options{1}, nullptr);
  EXPECT_NE(o.error.find("in a row dropped out"), std::string::npos) << o.error;
}

TEST_F(AsyncAvailability, ARunWhoseClientsNeverReturnStopsWithAnError) {
  // Everyone online until 1 ms, then gone for good: the first dispatches drop, nothing remains.
  auto w = world_with("0,1ms,off\n1,1ms,off\n2,1ms,off\n");
  ASSERT_TRUE(w);
  const auto o = run_simulation(w, run_options{1}, nullptr);
  EXPECT_NE(o.error.find("no client is online"), std::string::npos) << o.error;
}

/// Sync, every client every round, slow downlink: weights cost the model's bytes per task;
/// replay costs nothing in round 1 and one update message (plus replay work) afterwards.
TEST(Download, WeightsAndReplayChargeTheirBytesAndTimeAndLearnTheSame) {
  scenario sc = toy_scenario();
  sc.clients.per_round = 4;
  sc.train.rounds = 3;
  sc.clients.link.down_bytes_per_sec = 10000;
  auto ww = build_world(sc, toy_data(200, 40));
  sc.baffle.download = download_mode::replay;
  auto wr = build_world(sc, toy_data(200, 40));
  ASSERT_TRUE(ww.ok() && wr.ok());
  collecting_sink sw, sr;
  const auto a = run_simulation(*ww, run_options{2}, &sw);
  const auto b = run_simulation(*wr, run_options{2}, &sr);
  ASSERT_TRUE(a.error.empty() && b.error.empty());
  EXPECT_EQ(a.model_digest, b.model_digest);  // how the model travels does not change it

  const world& w = **wr;
  const uint64_t task = wire_size(round_task{});
  model_update u;
  u.version = 1;
  u.seeds = {round_seed(sc.seed, 1)};
  u.coefficients.assign(static_cast<size_t>(sc.baffle.k), 0.0);
  const uint64_t update = wire_size(u);
  for (const auto& r : sw.rounds) EXPECT_EQ(r.bytes_down, 4 * (task + w.model_bytes));
  EXPECT_EQ(sr.rounds[0].bytes_down, 4 * task);
  EXPECT_EQ(sr.rounds[1].bytes_down, 4 * (task + update));
  EXPECT_EQ(sr.rounds[2].bytes_down, 4 * (task + update));
  EXPECT_LT(b.bytes_down_total, a.bytes_down_total);

  // Round 2 under replay: latency + (task + update) / bandwidth + replay work + compute + uplink.
  const double flops = (sc.baffle.k + 1) * w.net->forward_flops(sc.train.batch_size);
  const double replay = sc.baffle.k * static_cast<double>(w.net->param_count()) *
                        replay_flops_per_element;
  const sim_time lat = sim_time::from_ms(50);
  const device_profile dev{sc.clients.compute.gflops};
  const sim_time round1 = transfer_time(w.downlink[0], task) + compute_time(dev, flops) + lat;
  const sim_time round2 = transfer_time(w.downlink[0], task + update) + compute_time(dev, replay) +
                          compute_time(dev, flops) + lat;
  EXPECT_EQ(sr.rounds[0].end_time, round1);
  EXPECT_EQ(sr.rounds[1].end_time, round1 + round2);
  // Weights: every round pays the model on the downlink.
  const sim_time weights_round =
      transfer_time(w.downlink[0], task + w.model_bytes) + compute_time(dev, flops) + lat;
  EXPECT_EQ(sw.rounds[1].end_time, weights_round + weights_round);
}

TEST(Download, ReplayChargesEveryMissedUpdate) {
  // Two of four clients a round: a client that sat out r rounds replays r updates.
  scenario sc = toy_scenario();
  sc.clients.per_round = 2;
  sc.train.rounds = 6;
  sc.baffle.download = download_mode::replay;
  auto w = build_world(sc, toy_data(200, 40));
  ASSERT_TRUE(w.ok());
  collecting_sink s;
  ASSERT_TRUE(run_simulation(*w, run_options{2}, &s).error.empty());
  const uint64_t task = wire_size(round_task{});
  model_update u;
  u.seeds = {0};
  u.coefficients.assign(static_cast<size_t>(sc.baffle.k), 0.0);
  const uint64_t update = wire_size(u);  // the same for every version (fixed-width fields)
  std::vector<int64_t> held(4, 0);
  for (int64_t r = 1; r <= 6; ++r) {
    uint64_t want = 0;
    for (uint32_t c : select_clients(sc.seed, r, 4, 2)) {
      want += task + static_cast<uint64_t>(r - 1 - held[c]) * update;
      held[c] = r - 1;
    }
    EXPECT_EQ(s.rounds[static_cast<size_t>(r - 1)].bytes_down, want) << "round " << r;
  }
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

TEST(EveryPolicyAndAlgorithm, GivesTheSameRunWithOneAndTwoThreads) {
  for (const char* policy : {"sync", "deadline", "first-m", "async"}) {
    for (const char* algorithm : {"baffle", "fedsgd", "fedavg"}) {
      scenario sc = async_fleet(algorithm);
      sc.train.rounds = 4;
      sc.clients.per_round = 4;
      sc.server = server_config{};
      sc.server.policy = *parse_name<policy_kind>(policy);
      if (sc.server.policy == policy_kind::deadline) sc.server.deadline = sim_time::from_ms(400);
      if (sc.server.policy == policy_kind::first_m) sc.server.over_select = 1.5;
      if (sc.server.policy == policy_kind::async) {
        sc.server.concurrency = 5;
        sc.server.buffer = 2;
      }
      auto w = build_world(sc, toy_data(240, 60));
      ASSERT_TRUE(w.ok());
      collecting_sink s1, s2;
      const auto a = run_simulation(*w, run_options{1}, &s1);
      const auto b = run_simulation(*w, run_options{2}, &s2);
      const std::string what = std::string(policy) + " / " + algorithm;
      ASSERT_TRUE(a.error.empty()) << what << ": " << a.error;
      EXPECT_EQ(a.model_digest, b.model_digest) << what;
      EXPECT_EQ(a.final_test_loss, b.final_test_loss) << what;
      EXPECT_EQ(a.sim_time_s, b.sim_time_s) << what;
      EXPECT_EQ(a.bytes_up_total, b.bytes_up_total) << what;
      EXPECT_EQ(a.bytes_down_total, b.bytes_down_total) << what;
      EXPECT_EQ(a.forward_passes_total, b.forward_passes_total) << what;
      EXPECT_EQ(s1.events, s2.events) << what;
      EXPECT_EQ(a.rounds, 4) << what;
    }
  }
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

TEST(Download, AutoPicksWhicheverStartsEachClientSoonerAndNeverLoses) {
  // 1 kB/s downlinks and 1 GFLOP/s devices, K = 32: replaying one update (about 290 bytes and
  // half a millisecond) beats the weights (about 500 bytes); replaying two or more does not.
  scenario sc = toy_scenario();
  sc.baffle.k = 32;
  sc.clients.per_round = 2;
  sc.train.rounds = 10;
  sc.clients.compute.gflops = 1.0;
  sc.clients.link.down_bytes_per_sec = 1000;
  std::map<std::string, run_outcome> out;
  std::map<std::string, collecting_sink> sinks;
  for (const char* mode : {"weights", "replay", "auto"}) {
    sc.baffle.download = *parse_name<download_mode>(mode);
    auto w = build_world(sc, toy_data(200, 40));
    ASSERT_TRUE(w.ok());
    out[mode] = run_simulation(*w, run_options{2}, &sinks[mode]);
    ASSERT_TRUE(out[mode].error.empty()) << out[mode].error;
  }
  EXPECT_EQ(out["auto"].model_digest, out["weights"].model_digest);
  EXPECT_EQ(out["auto"].model_digest, out["replay"].model_digest);
  EXPECT_LT(out["auto"].sim_time_s, out["weights"].sim_time_s);
  EXPECT_LT(out["auto"].sim_time_s, out["replay"].sim_time_s);

  // Round by round, each selected client takes the cheaper way given the updates it missed.
  auto w = build_world(sc, toy_data(200, 40));
  ASSERT_TRUE(w.ok());
  const uint64_t task = wire_size(round_task{});
  model_update u;
  u.seeds = {0};
  u.coefficients.assign(static_cast<size_t>(sc.baffle.k), 0.0);
  const uint64_t update = wire_size(u);
  const double replay_flops = sc.baffle.k * static_cast<double>((*w)->net->param_count()) *
                              replay_flops_per_element;
  // Adam: replaying needs the moments, which a device that got plain weights lacks; it would
  // then take the weights and the state (2 x 123 floats + the step count) instead.
  const uint64_t state = optimizer_state_bytes(**w);
  ASSERT_EQ(state, 2 * (*w)->model_bytes + 8);
  std::vector<int64_t> held(4, 0);
  std::vector<bool> has_state(4, true);  // version 0's state is known
  int replayed = 0, downloaded = 0;
  for (int64_t r = 1; r <= sc.train.rounds; ++r) {
    uint64_t want = 0;
    for (uint32_t c : select_clients(sc.seed, r, 4, 2)) {
      const auto missed = static_cast<uint64_t>(r - 1 - held[c]);
      const bool needs_state = missed > 0 && !has_state[c];
      const uint64_t replay_bytes =
          needs_state ? task + (*w)->model_bytes + state : task + missed * update;
      const sim_time by_replay =
          transfer_time((*w)->downlink[c], replay_bytes) +
          compute_time((*w)->devices[c], needs_state ? 0.0 : missed * replay_flops);
      const sim_time by_weights = transfer_time((*w)->downlink[c], task + (*w)->model_bytes);
      const bool replay = by_replay < by_weights;
      want += replay ? replay_bytes : task + (*w)->model_bytes;
      (replay ? replayed : downloaded) += 1;
      held[c] = r - 1;
      has_state[c] = replay;
    }
    EXPECT_EQ(sinks["auto"].rounds[static_cast<size_t>(r - 1)].bytes_down, want) << "round " << r;
  }
  EXPECT_GT(replayed, 0);
  EXPECT_GT(downloaded, 0);
}

}  // namespace
}  // namespace baffle
