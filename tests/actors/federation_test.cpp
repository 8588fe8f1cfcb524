// Server and clients as CAF actors: a round trip under CAF's deterministic test coordinator,
// virtual time against a hand computation, and thread-count independence of whole runs.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>

#include "actors/client.hpp"
#include "actors/round_plan.hpp"
#include "actors/run.hpp"
#include "actors/server.hpp"
#include "models/compute.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

/// Stops a federation's actors and lets the test coordinator process the exits, so the actor
/// system's destructor does not wait for them forever.
void stop(federation& f, caf::scheduler::test_coordinator& sched) {
  caf::anon_send_exit(f.server, caf::exit_reason::user_shutdown);
  for (auto& n : f.nodes) caf::anon_send_exit(n, caf::exit_reason::user_shutdown);
  sched.run();
}

/// An actor system run by CAF's deterministic test coordinator (members built in this order).
struct coordinated_system {
  struct config : caf::actor_system_config {
    config() {
      baffle::add_message_types(*this);
      set("scheduler.policy", caf::atom("testing"));
    }
  };
  config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
};

struct collecting_sink final : metrics_sink {
  std::vector<round_record> rounds;
  std::vector<client_record> clients;
  void on_round(const round_record& r) override { rounds.push_back(r); }
  void on_clients(const std::vector<client_record>& c) override { clients = c; }
};

/// Round 1 of a shared-seed BAFFLE run, computed without actors from the same pure functions.
struct direct_round {
  round_task task;
  std::vector<round_result> results;  ///< each selected client's, in client order
  std::vector<float> params;          ///< the model after the server's update
};

direct_round direct_first_round(const std::shared_ptr<const world>& w, const model_replica& initial,
                                tbb::task_arena& arena) {
  direct_round out;
  round_task& task = out.task;
  task.round = 1;
  task.model_version = 0;
  task.round_seed = round_seed(w->sc.seed, 1);
  task.k = static_cast<uint32_t>(w->sc.baffle.k);
  task.sigma = static_cast<float>(w->sc.baffle.sigma);
  task.batch_size = static_cast<uint32_t>(w->sc.train.batch_size);
  auto replica_copy = std::make_shared<model_replica>(initial);
  for (uint32_t c : select_clients(w->sc.seed, 1, w->sc.clients.count, w->sc.clients.per_round)) {
    client_state cs{c, w, replica_copy, &arena};
    out.results.push_back(compute_round(cs, task));
  }
  const int k = w->sc.baffle.k;
  const perturbation_plan plan{task.round_seed, k, task.sigma, fd_scheme::forward, w->estimator};
  out.params.assign(initial.params.begin(), initial.params.end());
  std::vector<float> grad(out.params.size());
  // The sample-weighted mean of the clients' scalars, written plainly.
  std::vector<double> dbar(static_cast<size_t>(k), 0.0);
  double total = 0.0;
  for (const auto& r : out.results) {
    total += r.samples;
    for (int j = 0; j < k; ++j) dbar[j] += r.samples * static_cast<double>(r.scalars[j]);
  }
  for (double& d : dbar) d /= total;
  baffle_reconstruct(dbar, plan, grad, arena);
  optimizer_state opt;
  optimizer_step(w->optimizer, opt, out.params, grad);
  return out;
}

TEST(Federation, RoundTripUnderTestCoordinatorMatchesDirectComputation) {
  enter_compute_thread();
  auto built = build_world(toy_scenario(), toy_data(200, 60));
  ASSERT_TRUE(built.ok()) << built.error();
  auto w = *built;

  coordinated_system cs;
  auto& sched = cs.sched;
  tbb::task_arena arena(1);
  collecting_sink sink;
  auto f = spawn_federation(cs.sys, w, &sink, &arena);

  // What round 1 must produce, computed without actors from the same pure functions.
  const direct_round expected = direct_first_round(w, *f.replica, arena);
  ASSERT_EQ(expected.results.size(), 3u);
  const round_task& task = expected.task;
  const std::vector<round_result>& expected_results = expected.results;
  const std::vector<float>& expected_params = expected.params;

  caf::anon_send(f.server, run_atom::value);
  sched.run();

  ASSERT_EQ(sink.rounds.size(), 3u);
  EXPECT_EQ(f.replica->version, 3u);
  for (const auto& r : sink.rounds) {
    EXPECT_EQ(r.participants, 3);
    EXPECT_EQ(r.bytes_up, 3 * wire_size(expected_results[0]));
    EXPECT_EQ(r.bytes_down, 3 * (wire_size(task) + w->model_bytes));  // download = "weights"
    EXPECT_EQ(r.forward_passes, 3 * 17);
    EXPECT_TRUE(r.test_acc.has_value());
  }
  // Round 1's training loss is the sample-weighted mean of the clients' minibatch losses.
  double loss = 0;
  for (const auto& r : expected_results) loss += r.base_loss;
  EXPECT_NEAR(sink.rounds[0].train_loss, loss / 3, 1e-6);

  // Virtual time: every round costs downlink latency + compute + uplink latency, identical for
  // all clients here, so after 3 rounds sim_time = 3 * (50 ms + compute + 50 ms).
  const double flops = 17 * w->net->forward_flops(8);
  const sim_time compute = compute_time(device_profile{0.001}, flops);
  const sim_time per_round = sim_time::from_ms(100) + compute;
  EXPECT_EQ(sink.rounds[0].end_time, per_round);
  EXPECT_EQ(sink.rounds[2].end_time.ns, 3 * per_round.ns);

  // Rerun with a fresh system to check round 1 alone gives the hand-computed parameters.
  coordinated_system cs2;
  auto& sched2 = cs2.sched;
  scenario one = toy_scenario();
  one.train.rounds = 1;
  auto w1 = build_world(one, toy_data(200, 60));
  ASSERT_TRUE(w1.ok());
  collecting_sink sink1;
  auto f1 = spawn_federation(cs2.sys, *w1, &sink1, &arena);
  caf::anon_send(f1.server, run_atom::value);
  sched2.run();
  ASSERT_EQ(sink1.rounds.size(), 1u);
  EXPECT_EQ(std::vector<float>(f1.replica->params.begin(), f1.replica->params.end()),
            expected_params);
  stop(f1, sched2);
  stop(f, sched);
}

TEST(Federation, WholeRunIsIdenticalWithOneAndTwoThreads) {
  scenario sc = toy_scenario();
  sc.train.rounds = 6;
  sc.train.eval_every = 2;
  auto w = build_world(sc, toy_data(300, 90));
  ASSERT_TRUE(w.ok());
  collecting_sink s1, s2;
  const auto a = run_simulation(*w, run_options{1}, &s1);
  const auto b = run_simulation(*w, run_options{2}, &s2);
  ASSERT_TRUE(a.error.empty()) << a.error;
  EXPECT_EQ(a.model_digest, b.model_digest);
  EXPECT_EQ(a.final_test_acc, b.final_test_acc);
  EXPECT_EQ(a.sim_time_s, b.sim_time_s);
  ASSERT_EQ(s1.rounds.size(), s2.rounds.size());
  for (size_t i = 0; i < s1.rounds.size(); ++i) {
    EXPECT_EQ(s1.rounds[i].train_loss, s2.rounds[i].train_loss) << "round " << i + 1;
    EXPECT_EQ(s1.rounds[i].end_time, s2.rounds[i].end_time);
    EXPECT_EQ(s1.rounds[i].test_loss, s2.rounds[i].test_loss);
  }
}

TEST(Federation, ToyProblemLearns) {
  scenario sc = toy_scenario();
  sc.train.rounds = 60;
  sc.train.eval_every = 60;
  sc.baffle.k = 32;
  sc.clients.per_round = 4;
  auto w = build_world(sc, toy_data(400, 150));
  ASSERT_TRUE(w.ok());
  const auto o = run_simulation(*w, run_options{2}, nullptr);
  // Chance is 1/3; the quadrant rule is easy, so BAFFLE must find it.
  EXPECT_GT(o.final_test_acc, 0.8);
}

TEST(Federation, EveryEstimatorAndOptimizerKnobIsThreadIndependentAndTakesEffect) {
  scenario sc = toy_scenario();
  sc.train.rounds = 6;
  sc.train.eval_every = 3;
  auto base = build_world(sc, toy_data(300, 90));
  sc.baffle.scheme = fd_scheme::central;
  sc.baffle.seeds = seed_mode::per_client;
  sc.train.clip_inf = 0.5;
  sc.train.ema_decay = 0.9;
  sc.train.warmup_rounds = 2;
  sc.train.milestones = {4};
  auto knobs = build_world(sc, toy_data(300, 90));
  ASSERT_TRUE(base.ok() && knobs.ok());
  const auto a = run_simulation(*knobs, run_options{1}, nullptr);
  const auto b = run_simulation(*knobs, run_options{2}, nullptr);
  const auto c = run_simulation(*base, run_options{2}, nullptr);
  EXPECT_EQ(a.model_digest, b.model_digest);
  EXPECT_EQ(a.final_test_loss, b.final_test_loss);
  EXPECT_NE(a.model_digest, c.model_digest);
  // Central differences cost 2K forward passes per client instead of K + 1.
  EXPECT_EQ(a.forward_passes_total, 6 * 3 * 2 * sc.baffle.k);
}

TEST(Federation, EstimatorOptionsReachClientsAndServerAlike) {
  enter_compute_thread();
  estimator_options sparse_rademacher{direction_distribution::rademacher, false, 0.5,
                                      loss_baseline::mean};
  estimator_options orthogonal_sphere{direction_distribution::sphere, true, 1.0,
                                      loss_baseline::none};
  for (const estimator_options& o : {sparse_rademacher, orthogonal_sphere}) {
    scenario sc = toy_scenario();
    sc.train.rounds = 1;
    sc.baffle.distribution = o.distribution;
    sc.baffle.orthogonal = o.orthogonal;
    sc.baffle.sparsity = o.sparsity;
    sc.baffle.baseline = o.baseline;
    auto built = build_world(sc, toy_data(200, 60));
    ASSERT_TRUE(built.ok()) << built.error();
    auto w = *built;
    ASSERT_EQ(w->estimator, o);

    coordinated_system cs;
    tbb::task_arena arena(2);
    collecting_sink sink;
    auto f = spawn_federation(cs.sys, w, &sink, &arena);
    const direct_round expected = direct_first_round(w, *f.replica, arena);
    caf::anon_send(f.server, run_atom::value);
    cs.sched.run();
    ASSERT_EQ(sink.rounds.size(), 1u);
    EXPECT_EQ(std::vector<float>(f.replica->params.begin(), f.replica->params.end()),
              expected.params);
    stop(f, cs.sched);
  }
}

TEST(Federation, EstimatorOptionsAreThreadIndependentAndTakeEffectUnderEverySeedMode) {
  scenario sc = toy_scenario();
  sc.train.rounds = 4;
  sc.train.eval_every = 4;
  const auto plain = run_simulation(*build_world(sc, toy_data(300, 90)), run_options{2}, nullptr);
  sc.baffle.distribution = direction_distribution::sphere;
  sc.baffle.orthogonal = true;
  sc.baffle.sparsity = 0.7;
  sc.baffle.baseline = loss_baseline::mean;
  for (seed_mode seeds : {seed_mode::shared, seed_mode::per_client}) {
    for (policy_kind policy : {policy_kind::sync, policy_kind::async}) {
      sc.baffle.seeds = seeds;
      sc.server.policy = policy;
      auto w = build_world(sc, toy_data(300, 90));
      ASSERT_TRUE(w.ok()) << w.error();
      const auto a = run_simulation(*w, run_options{1}, nullptr);
      const auto b = run_simulation(*w, run_options{2}, nullptr);
      EXPECT_EQ(a.model_digest, b.model_digest) << name_of(seeds) << " " << name_of(policy);
      EXPECT_NE(a.model_digest, plain.model_digest) << name_of(seeds) << " " << name_of(policy);
    }
  }
}

TEST(Federation, HeterogeneousFleetWithDropoutIsThreadIndependent) {
  scenario sc = toy_scenario();
  sc.train.rounds = 8;
  sc.clients.count = 6;
  sc.clients.per_round = 5;
  sc.clients.dropout = 0.3;
  sc.clients.link.latency = distribution::lognormal(0.05, 0.5);
  sc.clients.link.up_bytes_per_sec = 1000;
  sc.clients.compute.spread = distribution::uniform(0.5, 2.0);
  sc.clients.compute.stragglers = 0.34;
  sc.clients.compute.straggler_slowdown = 5;
  sc.clients.compute.jitter = 0.2;
  sc.server.policy = policy_kind::deadline;
  sc.server.deadline = sim_time::from_ms(250);  // stragglers (5x slower) and slow links miss it
  auto w = build_world(sc, toy_data(300, 60));
  ASSERT_TRUE(w.ok());
  collecting_sink s1, s2;
  const auto a = run_simulation(*w, run_options{1}, &s1);
  const auto b = run_simulation(*w, run_options{2}, &s2);
  EXPECT_EQ(a.model_digest, b.model_digest);
  EXPECT_EQ(a.sim_time_s, b.sim_time_s);
  int dropped = 0, late = 0;
  for (size_t i = 0; i < s1.rounds.size(); ++i) {
    EXPECT_EQ(s1.rounds[i].dropped, s2.rounds[i].dropped);
    EXPECT_EQ(s1.rounds[i].late, s2.rounds[i].late);
    EXPECT_EQ(s1.rounds[i].end_time, s2.rounds[i].end_time);
    EXPECT_EQ(s1.rounds[i].selected,
              s1.rounds[i].participants + s1.rounds[i].dropped + s1.rounds[i].late);
    dropped += s1.rounds[i].dropped;
    late += s1.rounds[i].late;
  }
  // 30% dropout over 40 selections and a tight deadline for slow uplinks: both must show up.
  EXPECT_GT(dropped, 0);
  EXPECT_GT(late, 0);
  // clients.csv's totals agree with the rounds, and each shard's label histogram sums to it.
  ASSERT_EQ(s1.clients.size(), 6u);
  int selected = 0, participated = 0, c_dropped = 0, c_late = 0;
  for (const auto& c : s1.clients) {
    selected += c.selected;
    participated += c.participated;
    c_dropped += c.dropped;
    c_late += c.late;
    int64_t labelled = 0;
    for (int64_t n : c.labels) labelled += n;
    EXPECT_EQ(labelled, c.shard_size);
    if (c.participated + c.late > 0) {
      EXPECT_GT(c.compute_time.ns, 0);
    }
    EXPECT_GE(c.link_time.ns, 0);
  }
  int participants = 0;
  for (const auto& r : s1.rounds) participants += r.participants;
  EXPECT_EQ(selected, 8 * 5);
  EXPECT_EQ(participated, participants);
  EXPECT_EQ(c_dropped, dropped);
  EXPECT_EQ(c_late, late);
}

TEST(Federation, LowPrecisionRunsAreThreadIndependentAndDifferFromF32) {
  // LeNet (convolutions and head) and the MLP (linear layers), at bf16 and int8.
  for (auto arch : {arch_kind::lenet, arch_kind::mlp}) {
    scenario sc = toy_lenet_scenario();
    sc.model.arch = arch;
    std::vector<std::string> digests;
    for (auto p : {forward_precision::f32, forward_precision::bf16, forward_precision::int8}) {
      sc.model.precision = p;
      auto w = build_world(sc, toy_data(200, 40));
      ASSERT_TRUE(w.ok()) << w.error();
      EXPECT_EQ((*w)->net->precision(), p);
      const auto a = run_simulation(*w, run_options{1}, nullptr);
      const auto b = run_simulation(*w, run_options{2}, nullptr);
      ASSERT_TRUE(a.error.empty()) << a.error;
      EXPECT_EQ(a.model_digest, b.model_digest) << name_of(arch) << " " << name_of(p);
      EXPECT_EQ(a.final_test_loss, b.final_test_loss) << name_of(arch) << " " << name_of(p);
      digests.push_back(a.model_digest);
    }
    EXPECT_NE(digests[0], digests[1]) << name_of(arch);
    EXPECT_NE(digests[0], digests[2]) << name_of(arch);
    EXPECT_NE(digests[1], digests[2]) << name_of(arch);
  }
}

TEST(Federation, LenetOnPaddedImagesIsThreadIndependent) {
  scenario sc = toy_scenario();
  sc.model.arch = arch_kind::lenet;
  sc.model.channels = {4, 8};
  sc.model.activation = activation::hardswish;
  sc.model.norm = norm_kind::group;
  sc.model.groups = 2;
  sc.data.image_size = 8;  // 4x4 toy images padded to 8x8, as 28 -> 32 for Fashion-MNIST
  sc.baffle.k = 6;
  auto w = build_world(sc, toy_data(200, 40));
  ASSERT_TRUE(w.ok()) << w.error();
  EXPECT_EQ(input_features(**w), 64);
  EXPECT_NE((*w)->net->describe().find("lenet"), std::string::npos) << (*w)->net->describe();
  const auto a = run_simulation(*w, run_options{1}, nullptr);
  const auto b = run_simulation(*w, run_options{2}, nullptr);
  ASSERT_TRUE(a.error.empty()) << a.error;
  EXPECT_EQ(a.model_digest, b.model_digest);
  EXPECT_EQ(a.final_test_loss, b.final_test_loss);

  sc.data.image_size = 3;  // cannot shrink
  const auto bad = build_world(sc, toy_data(200, 40));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("data.image_size"), std::string::npos) << bad.error();
}

TEST(Federation, FedAvgWithOneLocalStepEqualsFedSgdWithPlainSgd) {
  // One local SGD step from W gives W - lr g_c; averaging those is W - lr * mean(g_c), which is
  // FedSGD's update with server SGD at the same lr (no momentum, no weight decay).
  scenario sc = toy_scenario();
  sc.train.rounds = 3;
  sc.train.batch_size = 80;  // shards of 45 images: one step per local epoch, whole shard
  sc.train.optimizer = optimizer_kind::sgd;
  sc.train.lr = 0.1;
  sc.train.weight_decay = 0.0;
  sc.train.algorithm = algorithm_kind::fedsgd;
  auto sgd_world = build_world(sc, toy_data(200, 40));
  sc.train.algorithm = algorithm_kind::fedavg;
  sc.train.local_lr = 0.1;
  auto avg_world = build_world(sc, toy_data(200, 40));
  ASSERT_TRUE(sgd_world.ok() && avg_world.ok());
  EXPECT_EQ(baseline_steps(**avg_world), 1);
  collecting_sink a, b;
  const auto fedsgd = run_simulation(*sgd_world, run_options{2}, &a);
  const auto fedavg = run_simulation(*avg_world, run_options{2}, &b);
  ASSERT_TRUE(fedsgd.error.empty() && fedavg.error.empty());
  EXPECT_NEAR(fedsgd.final_test_loss, fedavg.final_test_loss, 1e-5);
  for (size_t i = 0; i < a.rounds.size(); ++i)
    EXPECT_NEAR(a.rounds[i].train_loss, b.rounds[i].train_loss, 1e-5) << "round " << i + 1;
}

TEST(Federation, BaselinesUploadTheWholeModelAndAreThreadIndependent) {
  for (const char* algorithm : {"fedsgd", "fedavg"}) {
    scenario sc = toy_scenario();
    sc.train.algorithm = *parse_name<algorithm_kind>(algorithm);
    sc.train.rounds = 4;
    auto w = build_world(sc, toy_data(200, 40));
    ASSERT_TRUE(w.ok());
    collecting_sink s1, s2;
    const auto a = run_simulation(*w, run_options{1}, &s1);
    const auto b = run_simulation(*w, run_options{2}, &s2);
    EXPECT_EQ(a.model_digest, b.model_digest) << algorithm;
    const uint64_t n = static_cast<uint64_t>((*w)->net->param_count());
    for (const auto& r : s1.rounds) {
      // Each participant uploads n floats and downloads the task with n floats of weights.
      EXPECT_GE(r.bytes_up, r.participants * 4 * n) << algorithm;
      EXPECT_LE(r.bytes_up, r.participants * (4 * n + 64)) << algorithm;
      EXPECT_GE(r.bytes_down, r.participants * 4 * n) << algorithm;
      EXPECT_EQ(r.forward_passes, r.participants * baseline_steps(**w)) << algorithm;
    }
    // The virtual time charges forward + backward (3 forward passes of FLOPs) per step.
    const sim_time compute = compute_time(device_profile{sc.clients.compute.gflops},
                                          baseline_steps(**w) * backprop_flops_factor *
                                              (*w)->net->forward_flops(sc.train.batch_size));
    const sim_time down = transfer_time((*w)->downlink[0], 1);  // latency only (no bandwidth)
    EXPECT_EQ(s1.rounds[0].end_time, down + compute + down) << algorithm;
  }
}

TEST(Federation, CifarTenRunsThreeChannelLenetEndToEnd) {
  // CIFAR-10 cannot be installed here: write a tiny folder in its binary format (label byte, then
  // the R, G, B planes of 32x32), 6 records per batch file.
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / "fake-cifar10";
  std::filesystem::create_directories(dir);
  const char* files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                         "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
  for (int f = 0; f < 6; ++f) {
    std::ofstream out(dir / files[f], std::ios::binary);
    for (int r = 0; r < 6; ++r) {
      const int label = (f * 6 + r) % 10;
      out.put(static_cast<char>(label));
      for (int i = 0; i < 3072; ++i) out.put(static_cast<char>((i / 1024 == label % 3) ? 200 : 20));
    }
  }
  scenario sc = toy_scenario();
  sc.data.dataset = dataset_kind::cifar10;
  sc.data.path = dir.string();
  sc.model.arch = arch_kind::lenet;
  sc.model.channels = {4, 8};
  sc.baffle.k = 3;
  sc.clients.count = 3;
  sc.clients.per_round = 3;
  sc.train.rounds = 2;
  auto w = build_world(sc);
  ASSERT_TRUE(w.ok()) << w.error();
  EXPECT_EQ((*w)->data.train.channels, 3);
  EXPECT_EQ(input_features(**w), 3 * 32 * 32);
  const auto a = run_simulation(*w, run_options{1}, nullptr);
  const auto b = run_simulation(*w, run_options{2}, nullptr);
  ASSERT_TRUE(a.error.empty()) << a.error;
  EXPECT_EQ(a.model_digest, b.model_digest);
  sc.data.image_size = 36;  // padding is for single-channel images
  EXPECT_FALSE(build_world(sc).ok());
  std::filesystem::remove_all(dir);
}

TEST(Federation, PerClientSeedsRebuildEachClientsOwnDirections) {
  enter_compute_thread();
  tbb::task_arena arena(2);
  scenario sc = toy_scenario();
  sc.baffle.k = 3;
  sc.baffle.sigma = 0.01;
  sc.baffle.seeds = seed_mode::per_client;
  auto built = build_world(sc, toy_data(200, 60));
  ASSERT_TRUE(built.ok()) << built.error();
  const world& w = **built;
  std::vector<round_result> results(2);
  results[0].client = 2;
  results[0].samples = 10;
  results[0].scalars = {0.5f, -1.f, 0.25f};
  results[1].client = 5;
  results[1].samples = 30;
  results[1].scalars = {1.f, 0.f, -0.5f};
  const seed_groups g = baffle_seed_groups(w, {{&results[0], 1}, {&results[1], 1}});
  ASSERT_EQ(g.seeds.size(), 2u);
  ASSERT_EQ(g.coefficients.size(), 6u);
  std::vector<stream_id> streams;
  std::vector<float> coeffs;
  for (size_t s = 0; s < g.seeds.size(); ++s) {
    for (int k = 0; k < 3; ++k) {
      streams.push_back(perturbation_stream(g.seeds[s], k));
      coeffs.push_back(static_cast<float>(g.coefficients[s * 3 + k]));
    }
  }
  const size_t n = 5000;
  std::vector<float> grad(n);
  reconstruct_from_streams(streams, coeffs, estimator_options{}, grad, arena);
  // The same as each client's own shared-seed reconstruction, weighted by samples.
  const perturbation_plan plan{round_seed(sc.seed, 1), 3, 0.01f, fd_scheme::forward};
  std::vector<float> expected(n, 0.f), part(n);
  for (const auto& r : results) {
    perturbation_plan own = plan;
    own.round_seed = client_perturbation_seed(plan.round_seed, seed_mode::per_client, r.client);
    baffle_reconstruct(std::vector<double>(r.scalars.begin(), r.scalars.end()), own, part, arena);
    for (size_t i = 0; i < n; ++i) expected[i] += static_cast<float>(r.samples / 40.0) * part[i];
  }
  for (size_t i = 0; i < n; ++i)
    ASSERT_NEAR(grad[i], expected[i], 1e-3 * (1 + std::abs(expected[i]))) << i;
  // Different clients really get different directions.
  EXPECT_NE(g.seeds[0], g.seeds[1]);
}

TEST(Federation, SharedSeedGroupsFollowTheirSeedRoundsAndStalenessWeights) {
  // FedBuff's buffer in its order (version, client): two results on version 0 (seed round 1),
  // one on version 1 (seed round 2) - two groups, coefficients by hand.
  scenario sc = toy_scenario();
  sc.baffle.k = 2;
  sc.baffle.sigma = 0.5;
  auto built = build_world(sc, toy_data(200, 60));
  ASSERT_TRUE(built.ok()) << built.error();
  const world& w = **built;
  std::vector<round_result> r(3);
  r[0] = {};
  r[0].client = 1;
  r[0].samples = 10;
  r[0].scalars = {1.f, 2.f};
  r[1].client = 4;
  r[1].samples = 30;
  r[1].scalars = {-1.f, 0.5f};
  r[2].client = 2;
  r[2].samples = 20;
  r[2].scalars = {4.f, -2.f};
  const seed_groups g = baffle_seed_groups(w, {{&r[0], 1, 0.5}, {&r[1], 1, 0.5}, {&r[2], 2, 1.0}});
  ASSERT_EQ(g.seeds, (std::vector<uint64_t>{round_seed(sc.seed, 1), round_seed(sc.seed, 2)}));
  // (sum n_i s_i d_ik) / (sum n_i = 60) / (K sigma = 1).
  const std::vector<double> want = {(5.0 * 1 + 15.0 * -1) / 60, (5.0 * 2 + 15.0 * 0.5) / 60,
                                    20.0 * 4 / 60, 20.0 * -2 / 60};
  ASSERT_EQ(g.coefficients.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(g.coefficients[i], static_cast<double>(static_cast<float>(want[i]))) << i;
}

TEST(Federation, ModelDigestIsTheSameHexOfTheParameterBytesAsEver) {
  // Documented digests (docs/results.md) and earlier run folders hold values made this way.
  const std::array<float, 3> params = {1.0f, -2.5f, 0.125f};
  EXPECT_EQ(params_digest(params), "d2686f4cd8863720");
  EXPECT_EQ(params_digest({}), "14650fb0739d0383");
}

TEST(Federation, SelectionIsDeterministicSortedAndSized) {
  const auto a = select_clients(1, 7, 100, 10);
  EXPECT_EQ(a, select_clients(1, 7, 100, 10));
  EXPECT_NE(a, select_clients(1, 8, 100, 10));
  ASSERT_EQ(a.size(), 10u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::adjacent_find(a.begin(), a.end()), a.end());
  EXPECT_EQ(select_clients(1, 7, 5, 5), (std::vector<uint32_t>{0, 1, 2, 3, 4}));
}

TEST(Federation, RoundResultOnTheWireIsAboutFourBytesPerScalar) {
  round_result r;
  r.scalars.assign(100, 0.5f);
  const uint64_t size = wire_size(r);
  EXPECT_GE(size, 400u);
  EXPECT_LE(size, 400u + 64u);
}

}  // namespace
}  // namespace baffle
