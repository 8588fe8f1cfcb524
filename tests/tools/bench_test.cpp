// End-to-end tests of `baffle bench forward`, `baffle bench estimator` and `baffle bench scale`:
// stdout is exactly one JSON object whose fields exist, are positive and agree with each other,
// and bad options exit 2. They check correctness, not speed: runs are tiny (--seconds 0.1, --k 4;
// 2,000 clients for scale).
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/tools/binary_fixture.hpp"

namespace {

using namespace baffle::e2e;
using json = nlohmann::json;

class Bench : public baffle_binary_test {
 protected:
  Bench() : baffle_binary_test("bench") {}

  /// Runs `baffle bench args...`, expects exit 0 and parses all of stdout as one JSON object.
  json bench_json(const std::vector<std::string>& args) {
    const cli_result r = baffle(concat({"bench"}, args));
    EXPECT_EQ(r.exit_code, 0) << show(r);
    json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "stdout is not one JSON object\n" << show(r);
    return j.is_object() ? j : json::object();
  }
};

/// a and b agree to the 5 significant digits the JSON keeps (checked at 1e-3 relative).
void expect_close(double a, double b, const std::string& what) {
  EXPECT_NEAR(a, b, 1e-3 * std::max(std::fabs(a), std::fabs(b))) << what;
}

/// j[key] exists, is a number and is positive.
double positive(const json& j, const std::string& key) {
  EXPECT_TRUE(j.contains(key) && j[key].is_number()) << key << " missing in\n" << j.dump(2);
  if (!j.contains(key) || !j[key].is_number()) return 0.0;
  const double v = j[key].get<double>();
  EXPECT_GT(v, 0.0) << key;
  return v;
}

void expect_forward_fields(const json& j, int batch, int threads, int k) {
  EXPECT_EQ(j.value("benchmark", ""), "forward");
  EXPECT_EQ(j.value("batch", 0), batch);
  EXPECT_EQ(j.value("threads", 0), threads);
  EXPECT_EQ(j.value("forwards_per_block", 0), k * threads);
  EXPECT_FALSE(j.value("model", "").empty());
  EXPECT_FALSE(j.value("data", "").empty());
  positive(j, "param_count");
  const double flops = positive(j, "flops_per_forward");
  const double ms = positive(j, "ms_per_forward");
  const double ms_thread = positive(j, "ms_per_forward_per_thread");
  const double per_s = positive(j, "forward_passes_per_s");
  const double gflops = positive(j, "gflops");
  const double peak = positive(j, "peak_gflops");
  const double fraction = positive(j, "fraction_of_peak");
  positive(j, "blocks");
  expect_close(gflops, flops / ms * 1e-6, "gflops = flops_per_forward / ms_per_forward * 1e-6");
  expect_close(fraction, gflops / peak, "fraction_of_peak = gflops / peak_gflops");
  expect_close(per_s, 1e3 / ms, "forward_passes_per_s = 1000 / ms_per_forward");
  expect_close(ms_thread, ms * threads, "ms_per_forward_per_thread = ms_per_forward * threads");
  EXPECT_FALSE(j.value("peak_method", "").empty());
}

TEST_F(Bench, ForwardLenetPrintsOneConsistentJsonObjectWithPerLayerTimes) {
  const json j = bench_json({"forward", "--model", "lenet", "--seconds", "0.1", "--k", "4"});
  expect_forward_fields(j, 32, 1, 4);
  EXPECT_EQ(j.value("param_count", 0), 26730) << "the scenario's default lenet, 1x32x32 input";
  EXPECT_EQ(j.value("data", "").rfind("real images", 0) == 0 ||
                j.value("data", "").rfind("synthetic", 0) == 0,
            true)
      << j.value("data", "");
  ASSERT_TRUE(j.contains("per_layer") && j["per_layer"].is_array()) << j.dump(2);
  const json& layers = j["per_layer"];
  ASSERT_EQ(layers.size(), 5u);
  double share_sum = 0.0;
  for (const json& l : layers) {
    EXPECT_FALSE(l.value("name", "").empty());
    EXPECT_GE(l.value("ms", -1.0), 0.0);
    const double share = l.value("share", -1.0);
    EXPECT_GE(share, 0.0);
    EXPECT_LE(share, 1.0);
    share_sum += share;
  }
  EXPECT_NEAR(share_sum, 1.0, 1e-3);
  EXPECT_EQ(layers[0].value("name", ""), "conv1");
  EXPECT_EQ(layers[2].value("name", ""), "conv2");
}

TEST_F(Bench, ForwardMlpOnTwoThreadsCountsEveryThreadsForwards) {
  const json j = bench_json({"forward", "--model", "mlp", "--threads", "2", "--batch", "16",
                             "--seconds", "0.1", "--k", "4"});
  expect_forward_fields(j, 16, 2, 4);
  EXPECT_EQ(j.value("param_count", 0), 25450) << "mlp 784-32-10";
  EXPECT_FALSE(j.contains("per_layer"));
  // forward_flops of mlp 784-32-10 at batch 16: 2*16*(784*32 + 32 + 32*10 + 10) + 5*16*10.
  EXPECT_EQ(j.value("flops_per_forward", 0.0), 2.0 * 16 * (784 * 32 + 32 + 32 * 10 + 10) + 800);
}

TEST_F(Bench, ForwardFallsBackToSyntheticImagesAndSaysSo) {
  const cli_result r = baffle({"bench", "forward", "--model", "mlp", "--seconds", "0.1", "--k", "4",
                               "--data", (work_ / "no-such-folder").string()});
  ASSERT_EQ(r.exit_code, 0) << show(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << show(r);
  EXPECT_EQ(j.value("data", "").rfind("synthetic", 0), 0u) << j.value("data", "");
  EXPECT_TRUE(contains(r.err, "synthetic")) << show(r);
  positive(j, "gflops");
}

void expect_estimator_fields(const json& j, int k, int threads, double sigma = 1e-4) {
  EXPECT_EQ(j.value("benchmark", ""), "estimator");
  EXPECT_EQ(j.value("k", 0), k);
  EXPECT_EQ(j.value("threads", 0), threads);
  EXPECT_DOUBLE_EQ(j.value("sigma", 0.0), sigma);
  const double p = positive(j, "param_count");
  const double step = positive(j, "client_step_ms");
  const double forward = positive(j, "forward_ms");
  const double overhead = positive(j, "perturbation_overhead");
  const double reconstruct = positive(j, "reconstruct_ms");
  const double normals_ms = positive(j, "normals_ms");
  const double normals_per_s = positive(j, "normals_per_s");
  const double ratio = positive(j, "reconstruct_vs_normals");
  const double step_1 = threads == 1 ? step : positive(j, "client_step_ms_1_thread");
  expect_close(overhead, step_1 / ((k + 1) * forward), "perturbation_overhead");
  expect_close(normals_per_s, k * p / (normals_ms * 1e-3), "normals_per_s");
  expect_close(ratio, reconstruct / normals_ms, "reconstruct_vs_normals");
  const double cosine = positive(j, "cosine_vs_backprop");
  EXPECT_LE(cosine, 1.0);
  ASSERT_TRUE(j.contains("cosine_seeds") && j["cosine_seeds"].is_array());
  double sum = 0.0;
  for (const json& c : j["cosine_seeds"]) {
    EXPECT_LE(c.get<double>(), 1.0);
    sum += c.get<double>();
  }
  ASSERT_FALSE(j["cosine_seeds"].empty());
  expect_close(cosine, sum / static_cast<double>(j["cosine_seeds"].size()), "mean cosine");
  const double ideal = positive(j, "cosine_ideal");
  expect_close(ideal, std::sqrt(k / (p + k + 1)), "cosine_ideal");
}

TEST_F(Bench, LowPrecisionForwardsAlsoTimeF32InTheSameRun) {
  for (const char* p : {"bf16", "int8"}) {
    const json j = bench_json(
        {"forward", "--model", "lenet", "--precision", p, "--seconds", "0.1", "--k", "4"});
    expect_forward_fields(j, 32, 1, 4);
    EXPECT_EQ(j.value("precision", ""), p);
    EXPECT_FALSE(j.value("onednn_isa", "").empty());
    EXPECT_NE(j.value("conv_implementations", "").find(std::string("_") + p), std::string::npos)
        << j.dump(2);
    const double lowp = positive(j, "one_thread_ms_per_forward");
    const double f32 = positive(j, "one_thread_f32_ms_per_forward");
    expect_close(positive(j, "speedup_vs_f32"), f32 / lowp, "speedup_vs_f32");
  }
  const json f = bench_json({"forward", "--model", "mlp", "--seconds", "0.1", "--k", "4"});
  EXPECT_EQ(f.value("precision", ""), "f32");
  EXPECT_FALSE(f.contains("speedup_vs_f32"));
  const json e = bench_json({"estimator", "--model", "mlp", "--k", "4", "--seconds", "0.1",
                             "--precision", "int8", "--sigma", "0.01"});
  expect_estimator_fields(e, 4, 1, 0.01);
  expect_close(positive(e, "forward_speedup_vs_f32"),
               positive(e, "f32_forward_ms") / positive(e, "forward_ms"), "forward speedup");
}

TEST_F(Bench, EstimatorLenetReportsConsistentCostsAndAPositiveCosine) {
  const json j =
      bench_json({"estimator", "--model", "lenet", "--k", "4", "--batch", "8", "--seconds", "0.1"});
  expect_estimator_fields(j, 4, 1);
  EXPECT_FALSE(j.contains("client_step_ms_1_thread"));
}

TEST_F(Bench, EstimatorMlpOnTwoThreadsAlsoTimesTheOneThreadStep) {
  const json j =
      bench_json({"estimator", "--model", "mlp", "--k", "4", "--threads", "2", "--seconds", "0.1"});
  expect_estimator_fields(j, 4, 2);
}

TEST_F(Bench, EstimatorTakesTheScenarioKeysEstimatorOptionsAndReportsThem) {
  const json plain = bench_json({"estimator", "--model", "mlp", "--k", "4", "--seconds", "0.1"});
  EXPECT_EQ(plain.value("distribution", ""), "gaussian");
  EXPECT_EQ(plain.value("orthogonal", true), false);
  EXPECT_EQ(plain.value("baseline", ""), "none");
  EXPECT_EQ(plain.value("sparsity", 0.0), 1.0);
  const json j =
      bench_json({"estimator", "--model", "mlp", "--k", "4", "--seconds", "0.1", "--distribution",
                  "rademacher", "--orthogonal", "--baseline", "mean", "--sparsity", "0.5"});
  expect_estimator_fields(j, 4, 1);
  EXPECT_EQ(j.value("distribution", ""), "rademacher");
  EXPECT_EQ(j.value("orthogonal", false), true);
  EXPECT_EQ(j.value("baseline", ""), "mean");
  EXPECT_EQ(j.value("sparsity", 0.0), 0.5);
  EXPECT_NE(j["cosine_seeds"], plain["cosine_seeds"]);
}

TEST_F(Bench, ScaleRunsASmallFederationAndReportsConsistentFigures) {
  const json j = bench_json(
      {"scale", "--clients", "2000", "--per-round", "50", "--rounds", "3", "--threads", "2"});
  EXPECT_EQ(j.value("benchmark", ""), "scale");
  EXPECT_EQ(j.value("clients", 0), 2000);
  EXPECT_EQ(j.value("per_round", 0), 50);
  EXPECT_EQ(j.value("k", 0), 10);
  EXPECT_EQ(j.value("batch", 0), 4);
  EXPECT_EQ(j.value("rounds", 0), 3);
  EXPECT_EQ(j.value("timed_rounds", 0), 2) << "round 1 (which spawns the actors) is not timed";
  EXPECT_EQ(j.value("threads", 0), 2);
  EXPECT_EQ(j.value("policy", ""), "sync");
  EXPECT_FALSE(j.value("data", "").empty());
  // The default tiny model: mlp (8 x 8 pixels)-16-10.
  EXPECT_EQ(j.value("param_count", 0), 64 * 16 + 16 + 16 * 10 + 10);
  EXPECT_NE(j.value("model", "").find("64-16-10"), std::string::npos) << j.value("model", "");

  // Every selected client took part in every timed round (no dropout in this scenario).
  EXPECT_EQ(j.value("fewest_participants", 0), 50);
  EXPECT_EQ(j.value("timed_updates", 0), 2 * 50);
  const double updates_per_s = positive(j, "client_updates_per_s");
  const double rounds_per_s = positive(j, "rounds_per_s");
  expect_close(updates_per_s, 50 * rounds_per_s,
               "client_updates_per_s = per_round x rounds_per_s (both medians over rounds)");
  const double mean = positive(j, "client_updates_per_s_mean");
  expect_close(positive(j, "forward_passes_per_s"), 11 * mean,
               "forward_passes_per_s = (K + 1) x client_updates_per_s_mean");
  const double lo = positive(j, "round_ms_min");
  const double mid = positive(j, "round_ms_median");
  const double hi = positive(j, "round_ms_max");
  EXPECT_LE(lo, mid);
  EXPECT_LE(mid, hi);
  positive(j, "cpu_cores_busy");
  positive(j, "cpu_us_per_update");
  positive(j, "setup_s");
  positive(j, "spawn_s");
  const double first = positive(j, "first_round_s");
  EXPECT_GE(positive(j, "run_s"), first);

  // Memory: the idle clients' bytes are the world's share plus the actors' share, each positive.
  ASSERT_TRUE(j.contains("idle_client_breakdown") && j["idle_client_breakdown"].is_object())
      << j.dump(2);
  const json& parts = j["idle_client_breakdown"];
  const double world = positive(parts, "world_bytes");
  const double actors = positive(parts, "actors_bytes");
  const double records = positive(parts, "server_client_record_bytes");
  const double actor = positive(parts, "client_actor_bytes");
  positive(parts, "caf_actor_object_bytes");
  expect_close(positive(j, "bytes_per_idle_client"), world + actors,
               "bytes_per_idle_client = world_bytes + actors_bytes");
  expect_close(actor, actors - records, "client_actor_bytes = actors_bytes - server record");
  // 8,000 + 1,000 images of 8 x 8 bytes and their labels.
  EXPECT_GE(j.value("dataset_bytes", 0.0), 9000.0 * 65);
  ASSERT_TRUE(j.contains("rss_bytes") && j["rss_bytes"].is_object()) << j.dump(2);
  const json& rss = j["rss_bytes"];
  const double spawned = positive(rss, "after_spawn");
  EXPECT_GT(spawned, positive(rss, "after_actor_system"));
  EXPECT_GT(positive(rss, "after_world"), positive(rss, "after_data"));
  EXPECT_GE(positive(j, "peak_rss_bytes"), spawned);
  EXPECT_GE(j.value("peak_rss_bytes", 0.0), positive(j, "run_rss_max_bytes"));
}

TEST_F(Bench, BadOptionsExitTwoWithAMessageAndNothingOnStdout) {
  const std::vector<std::vector<std::string>> bad = {
      {"bench", "forward", "--model", "resnet"},
      {"bench", "forward", "--model", "lenet", "--batch", "0"},
      {"bench", "forward", "--model", "mlp", "--threads", "0"},
      {"bench", "forward", "--model", "mlp", "--k", "0"},
      {"bench", "estimator", "--model", "vgg", "--k", "4"},
      {"bench", "estimator", "--model", "mlp", "--batch", "-1"},
      {"bench", "estimator", "--model", "mlp", "--threads", "0"},
      {"bench", "estimator", "--model", "mlp", "--sparsity", "0"},
      {"bench", "estimator", "--model", "mlp", "--distribution", "uniform"},
      {"bench", "estimator", "--model", "mlp", "--baseline", "mean", "--k", "1"},
      {"bench", "forward", "--model", "mlp", "--precision", "fp16"},
      {"bench", "estimator", "--model", "mlp", "--sigma", "-1"},
      {"bench", "forward"},
      {"bench"},
      {"bench", "backward", "--model", "mlp"},
      {"bench", "scale", "--clients", "0"},
      {"bench", "scale", "--clients", "10", "--per-round", "20"},
      {"bench", "scale", "--per-round", "0"},
      {"bench", "scale", "--k", "0"},
      {"bench", "scale", "--rounds", "1"},
      {"bench", "scale", "--examples", "0"},
      {"bench", "scale", "--hidden", "0"}};
  for (const auto& args : bad) {
    const cli_result r = baffle(args);
    std::string line;
    for (const auto& a : args) line += a + " ";
    EXPECT_EQ(r.exit_code, 2) << line << "\n" << show(r);
    EXPECT_TRUE(r.out.empty()) << line << "\n" << show(r);
    EXPECT_FALSE(r.err.empty()) << line << "\n" << show(r);
  }
  const cli_result model = baffle({"bench", "forward", "--model", "resnet"});
  EXPECT_TRUE(contains(model.err, "resnet") && contains(model.err, "mlp, lenet or wrn"))
      << show(model);
  const cli_result precision =
      baffle({"bench", "forward", "--model", "mlp", "--precision", "fp16"});
  EXPECT_TRUE(contains(precision.err, "fp16") && contains(precision.err, "f32, bf16 or int8"))
      << show(precision);
  const cli_result batch = baffle({"bench", "forward", "--model", "lenet", "--batch", "0"});
  EXPECT_TRUE(contains(batch.err, "--batch")) << show(batch);
  const cli_result threads = baffle({"bench", "estimator", "--model", "mlp", "--threads", "0"});
  EXPECT_TRUE(contains(threads.err, "--threads")) << show(threads);
  const cli_result per_round = baffle({"bench", "scale", "--clients", "10", "--per-round", "20"});
  EXPECT_TRUE(contains(per_round.err, "--per-round")) << show(per_round);
}

TEST_F(Bench, TopLevelHelpMentionsBench) {
  const cli_result r = baffle({"--help"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_TRUE(contains(r.out, "bench")) << show(r);
}

}  // namespace
