// Checkpoint and resume inside one process: a run resumed from the state saved after round r
// produces exactly the rounds, events and final model of the uninterrupted run, for the round
// policies, async (dispatches in flight with their results), the backprop baselines and replay
// downloads; a stop request ends the run after a checkpoint; a damaged state is refused.
#include <gtest/gtest.h>

#include <functional>

#include "actors/checkpoint.hpp"
#include "actors/run.hpp"
#include "actors/server.hpp"
#include "tests/actors/server_fixture.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

struct recording_sink final : metrics_sink {
  std::vector<round_record> rounds;
  std::vector<client_record> clients;
  std::string events;
  std::vector<std::pair<int64_t, std::string>> checkpoints;
  void on_round(const round_record& r) override { rounds.push_back(r); }
  void on_clients(const std::vector<client_record>& c) override { clients = c; }
  void on_events(const std::vector<event_record>& ev) override {
    for (const auto& e : ev) events += format_event(e) + "\n";
  }
  void on_checkpoint(int64_t round, std::string state) override {
    checkpoints.emplace_back(round, std::move(state));
  }
};

void expect_same_round(const round_record& a, const round_record& b, const std::string& what) {
  EXPECT_EQ(a.round, b.round) << what;
  EXPECT_EQ(a.end_time, b.end_time) << what;
  EXPECT_EQ(a.train_loss, b.train_loss) << what;
  EXPECT_EQ(a.test_loss, b.test_loss) << what;
  EXPECT_EQ(a.test_loss_raw, b.test_loss_raw) << what;
  EXPECT_EQ(a.selected, b.selected) << what;
  EXPECT_EQ(a.participants, b.participants) << what;
  EXPECT_EQ(a.dropped, b.dropped) << what;
  EXPECT_EQ(a.late, b.late) << what;
  EXPECT_EQ(a.bytes_up, b.bytes_up) << what;
  EXPECT_EQ(a.bytes_down, b.bytes_down) << what;
  EXPECT_EQ(a.stale_mean, b.stale_mean) << what;
  EXPECT_EQ(a.stale_max, b.stale_max) << what;
}

scenario fleet(const std::string& policy, const std::string& algorithm) {
  scenario sc = toy_scenario();
  sc.train.algorithm = *parse_name<algorithm_kind>(algorithm);
  sc.train.rounds = 9;
  sc.train.eval_every = 2;
  sc.train.ema_decay = 0.5;
  sc.clients.count = 8;
  sc.clients.per_round = 4;
  sc.clients.dropout = 0.2;
  sc.clients.link.latency = distribution::uniform(0.02, 0.12);
  sc.clients.link.up_bytes_per_sec = 5000;
  sc.clients.compute.spread = distribution::uniform(0.5, 1.5);
  sc.clients.compute.jitter = 0.1;
  sc.server.policy = *parse_name<policy_kind>(policy);
  if (sc.server.policy == policy_kind::deadline) sc.server.deadline = sim_time::from_ms(300);
  if (sc.server.policy == policy_kind::async) {
    sc.server.concurrency = 5;
    sc.server.buffer = 2;
    sc.server.max_staleness = 3;
  }
  if (sc.train.algorithm == algorithm_kind::baffle) sc.baffle.download = download_mode::replay;
  sc.run.checkpoint_every = 3;
  return sc;
}

/// fleet() with a seed pool of 3 seeds: plain SGD without weight decay, as the loader requires.
scenario pool_fleet(const std::string& policy) {
  scenario sc = fleet(policy, "baffle");
  sc.train.optimizer = optimizer_kind::sgd;
  sc.train.lr = 0.5;
  sc.train.weight_decay = 0.0;
  sc.baffle.seed_pool = 3;
  return sc;
}

/// The state of the first checkpoint a one-thread run of `w` writes (empty if it writes none).
std::string first_checkpoint(const std::shared_ptr<const world>& w) {
  recording_sink whole;
  run_simulation(w, run_options{1}, &whole);
  EXPECT_FALSE(whole.checkpoints.empty());
  return whole.checkpoints.empty() ? std::string() : whole.checkpoints[0].second;
}

void expect_resume_reproduces(const scenario& sc, const std::string& what, int resumed_nodes = 1) {
  auto w = build_world(sc, toy_data(300, 60));
  ASSERT_TRUE(w.ok()) << w.error();
  recording_sink whole;
  const auto full = run_simulation(*w, run_options{2}, &whole);
  ASSERT_TRUE(full.error.empty()) << full.error;
  // Checkpoints after rounds 3 and 6 (not 9: the last round ends the run).
  ASSERT_EQ(whole.checkpoints.size(), 2u) << what;
  EXPECT_EQ(whole.checkpoints[0].first, 3);
  for (const auto& [round, state] : whole.checkpoints) {
    recording_sink rest;
    run_options opt{1};
    opt.nodes = resumed_nodes;
    opt.resume_state = state;
    const auto resumed = run_simulation(*w, opt, &rest);
    ASSERT_TRUE(resumed.error.empty()) << what << ": " << resumed.error;
    const std::string at = what + " resumed after round " + std::to_string(round);
    EXPECT_EQ(resumed.model_digest, full.model_digest) << at;
    EXPECT_EQ(resumed.final_test_loss, full.final_test_loss) << at;
    EXPECT_EQ(resumed.sim_time_s, full.sim_time_s) << at;
    EXPECT_EQ(resumed.bytes_up_total, full.bytes_up_total) << at;
    EXPECT_EQ(resumed.bytes_down_total, full.bytes_down_total) << at;
    EXPECT_EQ(resumed.forward_passes_total, full.forward_passes_total) << at;
    ASSERT_EQ(rest.rounds.size(), whole.rounds.size() - static_cast<size_t>(round)) << at;
    for (size_t i = 0; i < rest.rounds.size(); ++i)
      expect_same_round(rest.rounds[i], whole.rounds[static_cast<size_t>(round) + i], at);
    // Per-client totals continue from the checkpoint.
    ASSERT_EQ(rest.clients.size(), whole.clients.size());
    for (size_t c = 0; c < rest.clients.size(); ++c) {
      EXPECT_EQ(rest.clients[c].selected, whole.clients[c].selected) << at;
      EXPECT_EQ(rest.clients[c].participated, whole.clients[c].participated) << at;
      EXPECT_EQ(rest.clients[c].compute_time, whole.clients[c].compute_time) << at;
      EXPECT_EQ(rest.clients[c].staleness_sum, whole.clients[c].staleness_sum) << at;
    }
    // The events after the checkpoint are the tail of the whole run's.
    EXPECT_EQ(whole.events.substr(whole.events.size() - rest.events.size()), rest.events) << at;
  }
}

TEST(Checkpoint, ResumingASyncRunReproducesIt) {
  expect_resume_reproduces(fleet("sync", "baffle"), "sync");
}

TEST(Checkpoint, ResumingADeadlineRunReproducesIt) {
  expect_resume_reproduces(fleet("deadline", "baffle"), "deadline");
}

TEST(Checkpoint, ResumingAnAsyncRunWithWorkInFlightReproducesIt) {
  expect_resume_reproduces(fleet("async", "baffle"), "async baffle");
}

TEST(Checkpoint, ResumingBaselinesReproducesThem) {
  expect_resume_reproduces(fleet("sync", "fedavg"), "sync fedavg");
  expect_resume_reproduces(fleet("async", "fedsgd"), "async fedsgd");
}

TEST(Checkpoint, PerClientSeedsAndAdamStateSurvive) {
  scenario sc = fleet("first-m", "baffle");
  sc.baffle.seeds = seed_mode::per_client;
  sc.server.over_select = 1.5;
  expect_resume_reproduces(sc, "first-m per-client");
}

TEST(Checkpoint, AnEmaUpdatedEveryFewVersionsWithWarmUpResumesBitForBit) {
  // The EMA's update count comes from the checkpointed model version.
  scenario sc = fleet("sync", "baffle");
  sc.train.ema_every = 2;
  sc.train.ema_warmup = true;
  expect_resume_reproduces(sc, "sync, EMA every 2 with warm-up");
  sc = fleet("async", "fedsgd");
  sc.train.ema_every = 4;
  sc.train.ema_warmup = true;
  expect_resume_reproduces(sc, "async fedsgd, EMA every 4 with warm-up");
}

TEST(Checkpoint, ASeedPoolRunResumesInThePoolsFormOnAnyNodeCount) {
  // The checkpoint and the nodes' snapshots carry the pool's coefficients, so the resumed server
  // and every node go on in the pool's form; sync and async, one and three nodes.
  for (const char* policy : {"sync", "async"}) {
    const scenario sc = pool_fleet(policy);
    for (int nodes : {1, 3})
      expect_resume_reproduces(sc, std::string(policy) + " seed pool", nodes);
  }
}

TEST(Checkpoint, SeedPoolCoefficientsThatDoNotRebuildTheWeightsAreRefused) {
  auto w = build_world(pool_fleet("sync"), toy_data(300, 60));
  ASSERT_TRUE(w.ok()) << w.error();
  tbb::task_arena arena(1);
  model_state m = initial_model(**w);
  std::vector<double> c(m.pool.coefficients.size(), 0.0);
  const auto held = m.replica->view();
  // The initial weights: all coefficients zero.
  EXPECT_FALSE(restore_pool(m, **w, c, held, 0, arena).has_value());
  c[4] = 0.25;  // weights that moved along a direction these weights never did
  const auto wrong = restore_pool(m, **w, c, held, 0, arena);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_NE(wrong->find("do not rebuild"), std::string::npos) << *wrong;
  EXPECT_EQ(m.pool.coefficients[4], 0.0);  // left as it was
  const auto short_one = restore_pool(m, **w, std::vector<double>(2, 0.0), held, 0, arena);
  ASSERT_TRUE(short_one.has_value());
  EXPECT_NE(short_one->find("coefficients, not 2"), std::string::npos) << *short_one;
}

// Found by fuzz_checkpoint: pool coefficients in the state of a scenario without a pool, loaded
// into a server state that has no arena (as tools and the fuzz target build it), bound a null
// arena. They are refused by name, and a pool scenario's state loads without an arena too.
TEST(Checkpoint, PoolCoefficientsAreCheckedWithoutAnArena) {
  scenario sc = fleet("sync", "baffle");
  auto w = build_world(sc, toy_data(300, 60));
  ASSERT_TRUE(w.ok());
  server_state plain = fresh_server_state(*w);
  plain.model.pool.seeds = {1, 2};  // saved as if it had a pool: two seeds of K coefficients
  plain.model.pool.coefficients.assign(2 * static_cast<size_t>(sc.baffle.k), 0.5);
  server_state into = fresh_server_state(*w);
  const auto loaded = load_server_state(save_server_state(plain), into);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find("without baffle.seed_pool"), std::string::npos) << loaded.error();

  auto pw = build_world(pool_fleet("sync"), toy_data(300, 60));
  ASSERT_TRUE(pw.ok());
  server_state pooled = fresh_server_state(*pw);
  const auto ok = load_server_state(first_checkpoint(*pw), pooled);
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(pooled.model.pool.version, pooled.model.replica->version);
}

TEST(Checkpoint, AStopRequestCheckpointsAndEndsTheRunEarly) {
  scenario sc = fleet("async", "baffle");
  sc.run.checkpoint_every = 0;  // only the stop writes one
  auto w = build_world(sc, toy_data(300, 60));
  ASSERT_TRUE(w.ok());
  recording_sink whole;
  const auto full = run_simulation(*w, run_options{2}, &whole);
  EXPECT_TRUE(whole.checkpoints.empty());
  EXPECT_FALSE(full.stopped);

  recording_sink first;
  run_options opt{2};
  opt.stop_requested = [&first] { return first.rounds.size() >= 4; };
  const auto stopped = run_simulation(*w, opt, &first);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_TRUE(stopped.error.empty()) << stopped.error;
  EXPECT_EQ(stopped.rounds, 4);
  ASSERT_EQ(first.checkpoints.size(), 1u);
  EXPECT_EQ(first.checkpoints[0].first, 4);

  recording_sink rest;
  run_options again{2};
  again.resume_state = first.checkpoints[0].second;
  const auto resumed = run_simulation(*w, again, &rest);
  EXPECT_FALSE(resumed.stopped);
  EXPECT_EQ(resumed.model_digest, full.model_digest);
  EXPECT_EQ(first.events + rest.events, whole.events);
}

TEST(Checkpoint, ADamagedOrForeignStateIsRefusedWithAMessage) {
  scenario sc = fleet("async", "baffle");
  auto w = build_world(sc, toy_data(300, 60));
  ASSERT_TRUE(w.ok());
  recording_sink whole;
  run_simulation(*w, run_options{2}, &whole);
  ASSERT_FALSE(whole.checkpoints.empty());
  const std::string state = whole.checkpoints[0].second;
  for (size_t cut : {size_t{0}, size_t{3}, state.size() / 2, state.size() - 1}) {
    run_options opt{1};
    opt.resume_state = state.substr(0, cut);
    if (opt.resume_state.empty()) continue;  // empty means "no resume"
    const auto o = run_simulation(*w, opt, nullptr);
    EXPECT_NE(o.error.find("checkpoint"), std::string::npos) << "cut at " << cut << ": " << o.error;
  }
  // The same bytes under a scenario with another model size or client count.
  scenario other = sc;
  other.model.hidden = {7};
  auto w2 = build_world(other, toy_data(300, 60));
  ASSERT_TRUE(w2.ok());
  run_options opt{1};
  opt.resume_state = state;
  const auto o = run_simulation(*w2, opt, nullptr);
  EXPECT_NE(o.error.find("another scenario"), std::string::npos) << o.error;
}

TEST(Checkpoint, AStateTheResumedRunWouldReadPastABufferWithIsRefused) {
  scenario sc = fleet("async", "baffle");
  sc.train.ema_decay = 0.5;
  auto w = build_world(sc, toy_data(300, 60));
  ASSERT_TRUE(w.ok());
  server_state good = fresh_server_state(*w);
  ASSERT_TRUE(load_server_state(first_checkpoint(*w), good).ok());
  ASSERT_FALSE(good.entries.empty());
  ASSERT_FALSE(good.interval_events.empty());
  // Each damage is well-formed bytes that only a cross-check catches.
  const std::vector<std::pair<std::string, std::function<void(server_state&)>>> damages = {
      {"EMA of another size", [](server_state& st) { st.model.ema.resize(3); }},
      {"Adam moments of another size", [](server_state& st) { st.model.opt.m.assign(5, 0.f); }},
      {"a device ahead of the server",
       [](server_state& st) { st.device_version[1] = st.model.replica->version + 1; }},
      {"a dispatch on a future version",
       [](server_state& st) {
         st.entries.begin()->second.version = st.model.replica->version + 9;
       }},
      {"a computed result of the wrong size",
       [](server_state& st) {
         auto& e = st.entries.begin()->second;
         e.computed = true;
         round_result r;
         r.scalars.assign(3, 0.f);
         e.result = r;
       }},
      {"an unknown event kind",
       [](server_state& st) { st.interval_events[0].what = static_cast<event_record::kind>(200); }},
      {"a queue out of order",
       [](server_state& st) {
         ASSERT_GE(st.queue.size(), 2u);
         std::swap(st.queue.front(), st.queue.back());
       }},
  };
  for (const auto& [what, damage] : damages) {
    server_state bad = good;
    damage(bad);
    server_state into = fresh_server_state(*w);
    const auto loaded = load_server_state(save_server_state(bad), into);
    ASSERT_FALSE(loaded.ok()) << what;
    EXPECT_NE(loaded.error().find("inconsistent"), std::string::npos)
        << what << ": " << loaded.error();
  }
}

TEST(Checkpoint, FileRoundTripsAndRefusesDamage) {
  checkpoint_file c;
  c.fingerprint = "00ff";
  c.rounds_csv_bytes = 123;
  c.events_bytes = 456;
  c.events = true;
  c.wall_seconds = 1.5;
  c.round = 7;
  c.state = std::string("state\0bytes", 11);
  const std::string sealed = write_checkpoint_file(c);
  const auto back = read_checkpoint_file(sealed);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->fingerprint, c.fingerprint);
  EXPECT_EQ(back->rounds_csv_bytes, 123u);
  EXPECT_EQ(back->events_bytes, 456u);
  EXPECT_TRUE(back->events);
  EXPECT_EQ(back->wall_seconds, 1.5);
  EXPECT_EQ(back->round, 7);
  EXPECT_EQ(back->state, c.state);
  for (size_t cut = 0; cut < sealed.size(); ++cut)
    EXPECT_FALSE(read_checkpoint_file(sealed.substr(0, cut)).ok()) << cut;
  std::string flipped = sealed;
  flipped.back() ^= 1;
  EXPECT_FALSE(read_checkpoint_file(flipped).ok());
}

TEST(ByteReader, StopsAtTheEndInsteadOfReadingPastIt) {
  byte_writer out;
  out.put<uint32_t>(7);
  out.put_vector(std::vector<float>{1.f, 2.f});
  out.put_string("abc");
  const std::string bytes = out.take();
  byte_reader in(bytes);
  EXPECT_EQ(in.get<uint32_t>(), 7u);
  EXPECT_EQ(in.get_vector<float>(), (std::vector<float>{1.f, 2.f}));
  EXPECT_EQ(in.get_string(), "abc");
  EXPECT_TRUE(in.ok() && in.at_end());
  byte_reader short_in(std::string_view(bytes).substr(0, bytes.size() - 1));
  short_in.get<uint32_t>();
  short_in.get_vector<float>();
  EXPECT_EQ(short_in.get_string(), "");
  EXPECT_FALSE(short_in.ok());
  // A length field claiming more than is there is refused, not allocated.
  byte_writer huge;
  huge.put<uint64_t>(uint64_t{1} << 60);
  const std::string h = huge.take();
  byte_reader hin(h);
  EXPECT_TRUE(hin.get_vector<double>().empty());
  EXPECT_FALSE(hin.ok());
}

}  // namespace
}  // namespace baffle
