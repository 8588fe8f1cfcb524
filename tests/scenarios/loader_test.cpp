// Tests for scenarios/loader.hpp: defaults, every key, each kind of error with its position and
// message, --set overrides, to_toml round trips, and that no input (however mangled) crashes it.
#include "scenarios/loader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "scenarios/schema.hpp"

namespace baffle {
namespace {

/// A directory that exists on any machine, for data.path in tests that must pass.
std::string existing_dir() {
  return std::filesystem::temp_directory_path().string();
}

/// `text` with data.path pointing at an existing directory, so results do not depend on whether
/// the Fashion-MNIST package is installed.
load_result parse(const std::string& text, std::vector<std::string> overrides = {}) {
  overrides.insert(overrides.begin(), "data.path=" + existing_dir());
  return parse_scenario(text, "test.toml", overrides);
}

std::string all_errors(const load_result& r) {
  std::string out;
  for (const scenario_error& e : r.errors) out += e.to_string() + "\n";
  return out;
}

/// The only error in `r`, which must be about `key`.
scenario_error single_error(const load_result& r, const std::string& key) {
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.value.has_value());
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  if (r.errors.empty()) return {};
  EXPECT_EQ(r.errors[0].key, key) << all_errors(r);
  EXPECT_EQ(r.errors[0].file, "test.toml");
  return r.errors[0];
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void expect_same(const scenario& a, const scenario& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.data.dataset, b.data.dataset);
  EXPECT_EQ(a.data.path, b.data.path);
  EXPECT_EQ(a.data.train_subset, b.data.train_subset);
  EXPECT_EQ(a.data.test_subset, b.data.test_subset);
  EXPECT_EQ(a.data.validation_fraction, b.data.validation_fraction);
  EXPECT_EQ(a.model.arch, b.model.arch);
  EXPECT_EQ(a.model.hidden, b.model.hidden);
  EXPECT_EQ(a.train.rounds, b.train.rounds);
  EXPECT_EQ(a.train.batch_size, b.train.batch_size);
  EXPECT_EQ(a.train.optimizer, b.train.optimizer);
  EXPECT_EQ(a.train.lr, b.train.lr);
  EXPECT_EQ(a.train.momentum, b.train.momentum);
  EXPECT_EQ(a.train.beta1, b.train.beta1);
  EXPECT_EQ(a.train.beta2, b.train.beta2);
  EXPECT_EQ(a.train.adam_eps, b.train.adam_eps);
  EXPECT_EQ(a.train.weight_decay, b.train.weight_decay);
  EXPECT_EQ(a.train.eval_every, b.train.eval_every);
  EXPECT_EQ(a.train.nesterov, b.train.nesterov);
  EXPECT_EQ(a.train.milestones, b.train.milestones);
  EXPECT_EQ(a.train.gamma, b.train.gamma);
  EXPECT_EQ(a.train.warmup_rounds, b.train.warmup_rounds);
  EXPECT_EQ(a.train.warmup_lr, b.train.warmup_lr);
  EXPECT_EQ(a.train.clip_inf, b.train.clip_inf);
  EXPECT_EQ(a.train.ema_decay, b.train.ema_decay);
  EXPECT_EQ(a.train.ema_every, b.train.ema_every);
  EXPECT_EQ(a.train.ema_warmup, b.train.ema_warmup);
  EXPECT_EQ(a.baffle.k, b.baffle.k);
  EXPECT_EQ(a.baffle.sigma, b.baffle.sigma);
  EXPECT_EQ(a.baffle.scheme, b.baffle.scheme);
  EXPECT_EQ(a.baffle.seeds, b.baffle.seeds);
  EXPECT_EQ(a.baffle.distribution, b.baffle.distribution);
  EXPECT_EQ(a.baffle.orthogonal, b.baffle.orthogonal);
  EXPECT_EQ(a.baffle.baseline, b.baffle.baseline);
  EXPECT_EQ(a.baffle.sparsity, b.baffle.sparsity);
  EXPECT_EQ(a.clients.count, b.clients.count);
  EXPECT_EQ(a.clients.per_round, b.clients.per_round);
  EXPECT_EQ(a.clients.link.latency, b.clients.link.latency);
  EXPECT_EQ(a.clients.compute.gflops, b.clients.compute.gflops);
  EXPECT_EQ(a.clients.dropout, b.clients.dropout);
  EXPECT_EQ(a.server.policy, b.server.policy);
  EXPECT_EQ(a.server.deadline, b.server.deadline);
  EXPECT_EQ(a.server.over_select, b.server.over_select);
  EXPECT_EQ(a.baffle.download, b.baffle.download);
  EXPECT_EQ(a.server.concurrency, b.server.concurrency);
  EXPECT_EQ(a.server.buffer, b.server.buffer);
  EXPECT_EQ(a.server.staleness, b.server.staleness);
  EXPECT_EQ(a.server.staleness_exponent, b.server.staleness_exponent);
  EXPECT_EQ(a.server.staleness_hinge, b.server.staleness_hinge);
  EXPECT_EQ(a.server.max_staleness, b.server.max_staleness);
}

/// A valid file setting every key to a non-default value.
std::string full_file() {
  return "name = \"quick\"\n"
         "seed = 42\n"
         "\n"
         "[data]\n"
         "dataset = \"mnist\"\n"
         "path = '" +
         existing_dir() +
         "'\n"
         "train_subset = 6000\n"
         "test_subset = 1000\n"
         "validation_fraction = 0.25\n"
         "\n"
         "[model]\n"
         "arch = \"mlp\"\n"
         "hidden = [128, 64]\n"
         "\n"
         "[train]\n"
         "rounds = 7\n"
         "batch_size = 64\n"
         "optimizer = \"sgd\"\n"
         "lr = 0.05\n"
         "momentum = 0.9\n"
         "beta1 = 0.8\n"
         "beta2 = 0.999\n"
         "adam_eps = 1e-6\n"
         "weight_decay = 0\n"
         "eval_every = 3\n"
         "nesterov = true\n"
         "milestones = [3, 5]\n"
         "gamma = 0.5\n"
         "warmup_rounds = 2\n"
         "warmup_lr = 0.001\n"
         "clip_inf = 2.5\n"
         "ema_decay = 0.99\n"
         "\n"
         "[baffle]\n"
         "k = 500\n"
         "sigma = 0.001\n"
         "scheme = \"central\"\n"
         "seeds = \"per-client\"\n"
         "\n"
         "[clients]\n"
         "count = 20\n"
         "per_round = 5\n"
         "link.latency = \"20ms\"\n"
         "\n"
         "[clients.compute]\n"
         "gflops = 2.5\n";
}

TEST(ScenarioLoader, EmptyFileGivesTheDefaults) {
  const load_result r = parse_scenario("", "empty.toml");
  if (std::filesystem::is_directory(scenario{}.data.path)) {
    ASSERT_TRUE(r.ok()) << all_errors(r);
    expect_same(*r.value, scenario{});
    EXPECT_EQ(r.value->source_file, "empty.toml");
  } else {
    // Without the Debian data set the default path is the one thing wrong, and it says so.
    ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
    EXPECT_EQ(r.errors[0].key, "data.path");
    EXPECT_TRUE(contains(r.errors[0].message, "dataset-fashion-mnist"));
  }
  const load_result with_dir = parse("");
  ASSERT_TRUE(with_dir.ok()) << all_errors(with_dir);
  scenario expected;
  expected.data.path = existing_dir();
  expect_same(*with_dir.value, expected);
}

TEST(ScenarioLoader, EveryKeyIsParsed) {
  const load_result r = parse_scenario(full_file(), "quick.toml");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const scenario& s = *r.value;
  EXPECT_EQ(s.name, "quick");
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.data.dataset, dataset_kind::mnist);
  EXPECT_EQ(s.data.path, existing_dir());
  EXPECT_EQ(s.data.train_subset, 6000);
  EXPECT_EQ(s.data.test_subset, 1000);
  EXPECT_EQ(s.data.validation_fraction, 0.25);
  EXPECT_EQ(s.model.arch, arch_kind::mlp);
  EXPECT_EQ(s.model.hidden, (std::vector<int>{128, 64}));
  EXPECT_EQ(s.train.rounds, 7);
  EXPECT_EQ(s.train.batch_size, 64);
  EXPECT_EQ(s.train.optimizer, optimizer_kind::sgd);
  EXPECT_EQ(s.train.lr, 0.05);
  EXPECT_EQ(s.train.momentum, 0.9);
  EXPECT_EQ(s.train.beta1, 0.8);
  EXPECT_EQ(s.train.beta2, 0.999);
  EXPECT_EQ(s.train.adam_eps, 1e-6);
  EXPECT_EQ(s.train.weight_decay, 0.0);
  EXPECT_EQ(s.train.eval_every, 3);
  EXPECT_EQ(s.baffle.k, 500);
  EXPECT_EQ(s.baffle.sigma, 0.001);
  EXPECT_EQ(s.baffle.scheme, fd_scheme::central);
  EXPECT_EQ(s.baffle.seeds, seed_mode::per_client);
  EXPECT_TRUE(s.train.nesterov);
  EXPECT_EQ(s.train.milestones, (std::vector<int>{3, 5}));
  EXPECT_EQ(s.train.gamma, 0.5);
  EXPECT_EQ(s.train.warmup_rounds, 2);
  EXPECT_EQ(s.train.warmup_lr, 0.001);
  EXPECT_EQ(s.train.clip_inf, 2.5);
  EXPECT_EQ(s.train.ema_decay, 0.99);
  EXPECT_EQ(s.clients.count, 20);
  EXPECT_EQ(s.clients.per_round, 5);
  EXPECT_EQ(s.clients.link.latency, distribution::constant(0.02));
  EXPECT_EQ(s.clients.compute.gflops, 2.5);
  EXPECT_EQ(s.source_file, "quick.toml");
}

TEST(ScenarioLoader, EmptyHiddenListMeansSoftmaxRegression) {
  const load_result r = parse("[model]\nhidden = []\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_TRUE(r.value->model.hidden.empty());
}

TEST(ScenarioLoader, UnknownKeyIsRejectedWithSuggestion) {
  const scenario_error e = single_error(parse("[train]\nrounds = 5\nrouns = 3\n"), "train.rouns");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.value, "3");
  EXPECT_TRUE(contains(e.message, "unknown key")) << e.message;
  EXPECT_TRUE(contains(e.message, "did you mean 'rounds'?")) << e.message;
  EXPECT_TRUE(contains(e.message, "batch_size")) << "lists the allowed keys: " << e.message;
}

TEST(ScenarioLoader, UnknownTableIsRejectedWithSuggestion) {
  const scenario_error e = single_error(parse("\n[trian]\nrounds = 3\n"), "trian");
  EXPECT_EQ(e.line, 2);
  EXPECT_TRUE(contains(e.message, "unknown table [trian]")) << e.message;
  EXPECT_TRUE(contains(e.message, "did you mean 'train'?")) << e.message;
  EXPECT_TRUE(contains(e.message, "[clients]")) << e.message;
}

TEST(ScenarioLoader, KeyInTheWrongTableNamesItsHome) {
  const scenario_error e = single_error(parse("rounds = 3\n"), "rounds");
  EXPECT_TRUE(contains(e.message, "'train.rounds'")) << e.message;
}

TEST(ScenarioLoader, QuotedDottedKeyIsNotAPath) {
  const scenario_error e = single_error(parse("\"train.rounds\" = 3\n"), "train.rounds");
  EXPECT_TRUE(contains(e.message, "unknown key")) << e.message;
}

TEST(ScenarioLoader, WrongTypeNamesExpectedAndActual) {
  const scenario_error e = single_error(parse("[train]\nrounds = \"abc\"\n"), "train.rounds");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 10);
  EXPECT_EQ(e.value, "\"abc\"");
  EXPECT_TRUE(contains(e.message, "expected an integer, got string \"abc\"")) << e.message;
}

TEST(ScenarioLoader, FloatIsNotAcceptedForAnInteger) {
  const scenario_error e = single_error(parse("[train]\nrounds = 2.5\n"), "train.rounds");
  EXPECT_TRUE(contains(e.message, "expected an integer, got float 2.5")) << e.message;
}

TEST(ScenarioLoader, IntegerIsAcceptedForAFloat) {
  const load_result r = parse("[train]\nlr = 1\n[clients.compute]\ngflops = 3\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->train.lr, 1.0);
  EXPECT_EQ(r.value->clients.compute.gflops, 3.0);
}

TEST(ScenarioLoader, OutOfRangeSaysTheAllowedRange) {
  const load_result r = parse("[train]\nrounds = -3\n");
  const scenario_error e = single_error(r, "train.rounds");
  EXPECT_EQ(e.to_string(), "test.toml:2:10: train.rounds = -3: must be an integer >= 1");

  EXPECT_TRUE(
      contains(single_error(parse("[baffle]\nk = 0\n"), "baffle.k").message, "in [1, 100000]"));
  EXPECT_TRUE(contains(single_error(parse("[train]\nmomentum = 1.0\n"), "train.momentum").message,
                       "in [0, 1)"));
  EXPECT_TRUE(
      contains(single_error(parse("[train]\nlr = 0\n"), "train.lr").message, "in (0, 1000]"));
  // Finite but absurd values are refused before they overflow mid-run.
  EXPECT_TRUE(
      contains(single_error(parse("[train]\nlr = 1e308\n"), "train.lr").message, "in (0, 1000]"));
  single_error(parse("[baffle]\nsigma = 1e300\n"), "baffle.sigma");
  single_error(parse("[clients.compute]\ngflops = 1e308\n"), "clients.compute.gflops");
  single_error(parse("[clients.compute]\nstraggler_slowdown = 1e300\n"),
               "clients.compute.straggler_slowdown");
  EXPECT_TRUE(contains(single_error(parse("[train]\nlr = nan\n"), "train.lr").message, "finite"));
  EXPECT_TRUE(contains(
      single_error(parse("[data]\nvalidation_fraction = 0.6\n"), "data.validation_fraction")
          .message,
      "in [0, 0.5]"));
  EXPECT_TRUE(contains(single_error(parse("seed = -1\n"), "seed").message, ">= 0"));
  EXPECT_TRUE(contains(single_error(parse("name = \"\"\n"), "name").message, "non-empty"));
}

TEST(ScenarioLoader, IntegerThatOverflowsIntIsARangeError) {
  const scenario_error e = single_error(parse("[train]\nrounds = 9999999999\n"), "train.rounds");
  EXPECT_TRUE(contains(e.message, "2147483647")) << e.message;
  // Beyond int64 toml++ itself refuses the number: one malformed-TOML error, no crash.
  const load_result huge = parse("[train]\nrounds = 99999999999999999999999\n");
  ASSERT_EQ(huge.errors.size(), 1u);
  EXPECT_EQ(huge.errors[0].line, 2);
}

TEST(ScenarioLoader, HiddenElementsAreCheckedOneByOne) {
  const load_result r = parse("[model]\nhidden = [16, 0, \"x\", 70000]\n");
  ASSERT_EQ(r.errors.size(), 3u) << all_errors(r);
  EXPECT_EQ(r.errors[0].key, "model.hidden[1]");
  EXPECT_EQ(r.errors[1].key, "model.hidden[2]");
  EXPECT_EQ(r.errors[2].key, "model.hidden[3]");
  EXPECT_TRUE(contains(r.errors[0].message, "[1, 65536]"));
  EXPECT_TRUE(contains(r.errors[1].message, "expected an integer, got string \"x\""));
}

TEST(ScenarioLoader, EnumValueMustBeOneOfTheAllowed) {
  const scenario_error e =
      single_error(parse("[train]\noptimizer = \"adamw\"\n"), "train.optimizer");
  EXPECT_EQ(e.value, "\"adamw\"");
  EXPECT_TRUE(contains(e.message, "one of \"adam\", \"sgd\"")) << e.message;
  EXPECT_TRUE(contains(e.message, "did you mean \"adam\"?")) << e.message;
  const scenario_error d = single_error(parse("[data]\ndataset = \"imagenet\"\n"), "data.dataset");
  EXPECT_TRUE(contains(d.message, "\"fashion-mnist\", \"mnist\", \"cifar10\", \"synthetic\""))
      << d.message;
}

TEST(ScenarioLoader, PerRoundAboveCountIsRejected) {
  const scenario_error e =
      single_error(parse("[clients]\ncount = 5\nper_round = 8\n"), "clients.per_round");
  EXPECT_EQ(e.line, 3);
  EXPECT_EQ(e.value, "8");
  EXPECT_TRUE(contains(e.message, "[1, 5]")) << e.message;

  // The default per_round (10) clashes with a smaller count: point at count, say it defaulted.
  const scenario_error d = single_error(parse("[clients]\ncount = 5\n"), "clients.per_round");
  EXPECT_EQ(d.line, 2);
  EXPECT_TRUE(contains(d.message, "defaults to 10")) << d.message;
}

TEST(ScenarioLoader, BadDurationIsRejected) {
  const scenario_error e =
      single_error(parse("[clients.link]\nlatency = \"50 ms\"\n"), "clients.link.latency");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.value, "\"50 ms\"");
  EXPECT_TRUE(contains(e.message, "not a valid duration")) << e.message;
  EXPECT_TRUE(contains(e.message, "\"50ms\"")) << "shows the syntax: " << e.message;

  const scenario_error n =
      single_error(parse("[clients]\nlink.latency = 50\n"), "clients.link.latency");
  EXPECT_TRUE(contains(n.message, "expected a duration string, got integer 50")) << n.message;
  const scenario_error m =
      single_error(parse("[clients.link]\nlatency = \"-5ms\"\n"), "clients.link.latency");
  EXPECT_TRUE(contains(m.message, "negative")) << m.message;
}

TEST(ScenarioLoader, MissingDataDirectoryIsNamed) {
  const load_result r =
      parse_scenario("[data]\npath = \"/nonexistent/baffle/fmnist\"\n", "test.toml");
  const scenario_error e = single_error(r, "data.path");
  EXPECT_EQ(e.line, 2);
  EXPECT_TRUE(contains(e.message, "/nonexistent/baffle/fmnist")) << e.message;
  EXPECT_TRUE(contains(e.message, "dataset-fashion-mnist")) << e.message;
}

TEST(ScenarioLoader, MalformedTomlGivesOneErrorWithPosition) {
  const load_result r = parse("[train]\nrounds = = 3\nk = \"x\n");
  ASSERT_EQ(r.errors.size(), 1u) << all_errors(r);
  EXPECT_FALSE(r.value.has_value());
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_GT(r.errors[0].column, 0);
  EXPECT_EQ(r.errors[0].file, "test.toml");
  EXPECT_TRUE(contains(r.errors[0].message, "malformed TOML")) << r.errors[0].message;
}

TEST(ScenarioLoader, MissingFileIsNamed) {
  const load_result r = load_scenario("/nonexistent/baffle/quick.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].file, "/nonexistent/baffle/quick.toml");
  EXPECT_TRUE(contains(r.errors[0].message, "/nonexistent/baffle/quick.toml"));

  const load_result dir = load_scenario(existing_dir());
  ASSERT_EQ(dir.errors.size(), 1u);
  EXPECT_TRUE(contains(dir.errors[0].message, "directory"));
}

TEST(ScenarioLoader, LoadScenarioReadsAFileAndRecordsItsPath) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "baffle_loader_test_quick.toml").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << full_file();
  }
  const load_result r = load_scenario(path, {"train.rounds=9"});
  std::filesystem::remove(path);
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->source_file, path);
  EXPECT_EQ(r.value->train.rounds, 9);
  EXPECT_EQ(r.value->name, "quick");
}

TEST(ScenarioLoader, OverridesReplaceAndCreateValues) {
  const load_result r =
      parse_scenario("[train]\nrounds = 5\n", "test.toml",
                     {"train.rounds=20", "data.path=" + existing_dir(), "clients.link.latency=20ms",
                      " model.hidden = [8, 4] ", "train.lr=1e-3", "name=\"with spaces\"",
                      "clients.count=3", "clients.per_round=2"});
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->train.rounds, 20);
  EXPECT_EQ(r.value->data.path, existing_dir());
  EXPECT_EQ(r.value->clients.link.latency, distribution::constant(0.02));
  EXPECT_EQ(r.value->model.hidden, (std::vector<int>{8, 4}));
  EXPECT_EQ(r.value->train.lr, 1e-3);
  EXPECT_EQ(r.value->name, "with spaces");
  EXPECT_EQ(r.value->clients.per_round, 2);
}

TEST(ScenarioLoader, OverrideOfUnknownKeyIsAnError) {
  const load_result r = parse("", {"train.roundz=3"});
  const scenario_error e = single_error(r, "train.roundz");
  EXPECT_EQ(e.line, 0);
  EXPECT_TRUE(contains(e.message, "--set 'train.roundz=3'")) << e.message;
  EXPECT_TRUE(contains(e.message, "did you mean 'train.rounds'?")) << e.message;

  const scenario_error t = single_error(parse("", {"clients.link=5"}), "clients.link");
  EXPECT_TRUE(contains(t.message, "latency")) << t.message;
}

TEST(ScenarioLoader, OverrideWithoutEqualsIsAnError) {
  const scenario_error e = single_error(parse("", {"train.rounds"}), "train.rounds");
  EXPECT_TRUE(contains(e.message, "no '='")) << e.message;
}

TEST(ScenarioLoader, OverrideWithBadValueIsAnError) {
  const scenario_error e =
      single_error(parse("[train]\nrounds = 5\n", {"train.rounds=abc"}), "train.rounds");
  EXPECT_EQ(e.line, 0) << "the value came from --set, not from the file";
  EXPECT_EQ(e.value, "\"abc\"");
  EXPECT_TRUE(contains(e.message, "expected an integer, got string \"abc\"")) << e.message;
  EXPECT_TRUE(contains(e.message, "--set 'train.rounds=abc'")) << e.message;

  const scenario_error h = single_error(parse("", {"model.hidden=[1, 0]"}), "model.hidden[1]");
  EXPECT_TRUE(contains(h.message, "--set")) << h.message;
}

// Found by tests/fuzz/fuzz_scenario.cpp: a --set value that is not TOML becomes a string as
// written, and one with invalid UTF-8 bytes was accepted, so the run's resolved scenario.toml
// could not be read back (by --resume, or by the user).
TEST(ScenarioLoader, OverrideWithInvalidUtf8IsAnErrorAndValidUtf8RoundTrips) {
  for (const std::string bad :
       {"x\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"}) {
    const scenario_error e = single_error(parse("", {"name=" + bad}), "name");
    EXPECT_TRUE(contains(e.message, "not valid UTF-8")) << e.message;
  }
  const load_result ok = parse("", {"name=caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x99\x82"});
  ASSERT_TRUE(ok.ok()) << all_errors(ok);
  const load_result again = parse_scenario(to_toml(*ok.value), "resolved.toml");
  ASSERT_TRUE(again.ok()) << all_errors(again);
  EXPECT_EQ(again.value->name, ok.value->name);
}

// Found by tests/fuzz/fuzz_scenario.cpp: toml++ 3.3.0 reaches __builtin_unreachable() when it
// checks some non-ASCII characters for whitespace (U+00B5 in a bare key or after a value); the
// instrumented builds leave UBSan's `unreachable` check out of loader.cpp for that reason. The
// input is invalid TOML and must be reported as such.
TEST(ScenarioLoader, NonAsciiCharactersWhereTomlAllowsNoneAreErrors) {
  for (const std::string text :
       {"name\xc2\xb5 = \"x\"\n", "[model]\nhidden = [3]\xc2\xb5\n", "[mode\xc2\xb5l]\n"}) {
    const load_result r = parse(text);
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_FALSE(r.errors.empty()) << text;
  }
  EXPECT_TRUE(parse("name = \"5\xc2\xb5s\" # \xc2\xb5\n").ok());
}

TEST(ScenarioLoader, SeveralErrorsAreReportedAtOnce) {
  const load_result r = parse(
      "nam = \"x\"\n"
      "[train]\n"
      "rounds = 0\n"
      "optimizer = \"rmsprop\"\n"
      "[clients]\n"
      "count = \"ten\"\n"
      "link.latency = \"fast\"\n",
      {"baffle.sigma=-1"});
  ASSERT_EQ(r.errors.size(), 6u) << all_errors(r);
  // File order, then errors with no position.
  EXPECT_EQ(r.errors[0].key, "nam");
  EXPECT_EQ(r.errors[1].key, "train.rounds");
  EXPECT_EQ(r.errors[2].key, "train.optimizer");
  EXPECT_EQ(r.errors[3].key, "clients.count");
  EXPECT_EQ(r.errors[4].key, "clients.link.latency");
  EXPECT_EQ(r.errors[5].key, "baffle.sigma");
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_EQ(r.errors[3].line, 6);
  EXPECT_EQ(r.errors[4].line, 7);
  EXPECT_EQ(r.errors[5].line, 0);
}

TEST(ScenarioLoader, TableWhereValueBelongsAndValueWhereTableBelongAreErrors) {
  const scenario_error t = single_error(parse("[train.rounds]\nx = 1\n"), "train.rounds");
  EXPECT_TRUE(contains(t.message, "expected an integer, got a table")) << t.message;

  const scenario_error v = single_error(parse("clients = 3\n"), "clients");
  EXPECT_TRUE(contains(v.message, "expected a table [clients]")) << v.message;

  const scenario_error a = single_error(parse("[[train]]\nrounds = 3\n"), "train");
  EXPECT_TRUE(contains(a.message, "expected a table")) << a.message;
}

TEST(ScenarioLoader, ToTomlRoundTrips) {
  scenario s;
  s.name = "round \"trip\"\\ \t test";
  s.seed = 9007199254740993;  // not representable as a double: must stay an integer
  s.data.dataset = dataset_kind::mnist;
  s.data.path = existing_dir();
  s.data.train_subset = 1234;
  s.data.test_subset = 99;
  s.data.validation_fraction = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  s.model.hidden = {};
  s.train.rounds = 3;
  s.train.batch_size = 17;
  s.train.optimizer = optimizer_kind::sgd;
  s.train.lr = 1.0 / 3.0;
  s.train.momentum = 0.95;
  s.train.beta1 = 0.0;
  s.train.beta2 = 0.9999;
  s.train.adam_eps = 1e-300;
  s.train.weight_decay = 2.0;
  s.train.eval_every = 1;
  s.baffle.k = 100000;
  s.baffle.sigma = 5e-5;
  s.baffle.distribution = direction_distribution::sphere;
  s.baffle.baseline = loss_baseline::mean;
  s.baffle.sparsity = 0.125;
  s.clients.count = 1000;
  s.clients.per_round = 1000;
  s.clients.link.latency = distribution::constant(sim_time{1'500'001}.seconds());
  s.clients.compute.gflops = 123.456;

  const std::string text = to_toml(s);
  const load_result r = parse_scenario(text, "resolved.toml");
  ASSERT_TRUE(r.ok()) << all_errors(r) << text;
  expect_same(*r.value, s);
  EXPECT_EQ(to_toml(*r.value), text) << "printing is a fixed point";

  scenario defaults;
  defaults.data.path = existing_dir();
  const load_result d = parse_scenario(to_toml(defaults), "defaults.toml");
  ASSERT_TRUE(d.ok()) << all_errors(d);
  expect_same(*d.value, defaults);
}

TEST(ScenarioLoader, KnownKeysCoverEveryKey) {
  const std::vector<std::string> keys = known_keys();
  const std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), keys.size());
  EXPECT_GE(keys.size(), 34u);
  const std::string resolved = to_toml(scenario{});
  for (const std::string& key : keys) {
    // Every known key is read and checked: a boolean is the wrong type for all but the boolean
    // keys, and a string is wrong for those.
    const bool boolean_key = find_key(key)->type == value_type::boolean;
    const load_result r = parse("", {key + (boolean_key ? "=\"wrong\"" : "=true")});
    ASSERT_EQ(r.errors.size(), 1u) << key << "\n" << all_errors(r);
    EXPECT_TRUE(r.errors[0].key == key || r.errors[0].key.rfind(key + "[", 0) == 0) << key;
    // ... and to_toml writes it.
    const std::string leaf = key.substr(key.rfind('.') + 1);
    EXPECT_TRUE(contains(resolved, "\n" + leaf + " = ") ||
                contains(resolved, "\n# " + leaf + " = "))
        << key;
  }
  for (const char* expected :
       {"name", "seed", "data.path", "model.hidden", "train.rounds", "baffle.k",
        "clients.per_round", "clients.link.latency", "clients.compute.gflops"}) {
    EXPECT_TRUE(unique.count(expected)) << expected;
  }
}

TEST(ScenarioLoader, NesterovWithoutSgdMomentumIsRejected) {
  const scenario_error e =
      single_error(parse("[train]\nnesterov = true\noptimizer = \"adam\"\n"), "train.nesterov");
  EXPECT_TRUE(contains(e.message, "momentum")) << e.message;
  EXPECT_TRUE(parse("[train]\nnesterov = true\noptimizer = \"sgd\"\nmomentum = 0.9\n").ok());
}

TEST(ScenarioLoader, EmaScheduleKeysDefaultToAnEmaEveryRoundAndNeedAnEma) {
  const load_result plain = parse("");
  ASSERT_TRUE(plain.ok()) << all_errors(plain);
  EXPECT_EQ(plain.value->train.ema_every, 1);
  EXPECT_FALSE(plain.value->train.ema_warmup);
  const load_result r = parse("[train]\nema_decay = 0.995\nema_every = 172\nema_warmup = true\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->train.ema_every, 172);
  EXPECT_TRUE(r.value->train.ema_warmup);
  const scenario_error w = single_error(parse("[train]\nema_warmup = true\n"), "train.ema_warmup");
  EXPECT_TRUE(contains(w.message, "ema_decay")) << w.message;
  const scenario_error e = single_error(parse("[train]\nema_every = 10\n"), "train.ema_every");
  EXPECT_TRUE(contains(e.message, "ema_decay")) << e.message;
  single_error(parse("[train]\nema_decay = 0.9\nema_every = 0\n"), "train.ema_every");
}

TEST(ScenarioLoader, EstimatorOptionsAreReadAndDefaultToThePlainGaussianEstimator) {
  const load_result plain = parse("");
  ASSERT_TRUE(plain.ok()) << all_errors(plain);
  EXPECT_EQ(plain.value->baffle.distribution, direction_distribution::gaussian);
  EXPECT_FALSE(plain.value->baffle.orthogonal);
  EXPECT_EQ(plain.value->baffle.baseline, loss_baseline::none);
  EXPECT_EQ(plain.value->baffle.sparsity, 1.0);
  const load_result r = parse(
      "[baffle]\ndistribution = \"rademacher\"\northogonal = true\nbaseline = \"mean\"\n"
      "sparsity = 0.25\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->baffle.distribution, direction_distribution::rademacher);
  EXPECT_TRUE(r.value->baffle.orthogonal);
  EXPECT_EQ(r.value->baffle.baseline, loss_baseline::mean);
  EXPECT_EQ(r.value->baffle.sparsity, 0.25);
  single_error(parse("[baffle]\nsparsity = 0\n"), "baffle.sparsity");
  single_error(parse("[baffle]\nsparsity = 1.5\n"), "baffle.sparsity");
  single_error(parse("[baffle]\ndistribution = \"uniform\"\n"), "baffle.distribution");
}

TEST(ScenarioLoader, OrthogonalDirectionsThatWouldNotFitInMemoryAreRejectedWithWhy) {
  // The quickstart's mlp 784-32-10 has 25,450 parameters: K = 40,000 needs 1.02e9 floats.
  const scenario_error e =
      single_error(parse("[baffle]\northogonal = true\nk = 40000\n"), "baffle.orthogonal");
  EXPECT_TRUE(contains(e.message, "in memory at once")) << e.message;
  EXPECT_TRUE(contains(e.message, "40000 x 25450")) << e.message;
  EXPECT_TRUE(parse("[baffle]\northogonal = true\nk = 20000\n").ok());
  EXPECT_TRUE(parse("[baffle]\nk = 40000\n").ok()) << "independent directions need no memory";
  // More orthonormal directions than perturbed parameters do not exist.
  const scenario_error few = single_error(
      parse("[baffle]\northogonal = true\nk = 300\nsparsity = 0.01\n"), "baffle.orthogonal");
  EXPECT_TRUE(contains(few.message, "sparsity x n")) << few.message;
}

TEST(ScenarioLoader, MeanBaselineNeedsTwoDirections) {
  const scenario_error e =
      single_error(parse("[baffle]\nbaseline = \"mean\"\nk = 1\n"), "baffle.baseline");
  EXPECT_TRUE(contains(e.message, "would be zero")) << e.message;
  EXPECT_TRUE(parse("[baffle]\nbaseline = \"mean\"\nk = 2\n").ok());
}

TEST(ScenarioLoader, SeedPoolIsRefusedWhereTheCatchUpWouldBeWrongSayingWhy) {
  const std::string sgd = "[train]\noptimizer = \"sgd\"\nweight_decay = 0\n";
  const load_result ok = parse(sgd +
                               "lr = 0.1\nwarmup_rounds = 5\nmilestones = [50]\n"
                               "clip_inf = 0.3\n[baffle]\nseed_pool = 16\n");
  ASSERT_TRUE(ok.ok()) << all_errors(ok);
  EXPECT_EQ(ok.value->baffle.seed_pool, 16);
  // The default optimizer is Adam.
  const scenario_error adam = single_error(parse("[baffle]\nseed_pool = 16\n"), "baffle.seed_pool");
  EXPECT_TRUE(contains(adam.message, "Adam divides each coordinate")) << adam.message;
  const scenario_error momentum =
      single_error(parse(sgd + "momentum = 0.9\n[baffle]\nseed_pool = 16\n"), "baffle.seed_pool");
  EXPECT_TRUE(contains(momentum.message, "velocity")) << momentum.message;
  const scenario_error decay = single_error(
      parse("[train]\noptimizer = \"sgd\"\n[baffle]\nseed_pool = 16\n"), "baffle.seed_pool");
  EXPECT_TRUE(contains(decay.message, "weight decay shrinks")) << decay.message;
  const scenario_error per_client = single_error(
      parse(sgd + "[baffle]\nseed_pool = 16\nseeds = \"per-client\"\n"), "baffle.seed_pool");
  EXPECT_TRUE(contains(per_client.message, "not one of the M pool seeds")) << per_client.message;
  // 25,450 parameters x 10,000 seeds = 2.5e8 floats is the limit.
  EXPECT_TRUE(parse(sgd + "[baffle]\nseed_pool = 9000\n").ok());
  const scenario_error big =
      single_error(parse(sgd + "[baffle]\nseed_pool = 10000\n"), "baffle.seed_pool");
  EXPECT_TRUE(contains(big.message, "10000 x 25450")) << big.message;
  single_error(parse(sgd + "algorithm = \"fedsgd\"\n[baffle]\nseed_pool = 16\n"),
               "baffle.seed_pool");
}

TEST(ScenarioLoader, MeasureGradientEveryIsForBaffle) {
  EXPECT_TRUE(parse("[run]\nmeasure_gradient_every = 10\n").ok());
  single_error(parse("[run]\nmeasure_gradient_every = -1\n"), "run.measure_gradient_every");
  single_error(parse("[train]\nalgorithm = \"fedsgd\"\n[run]\nmeasure_gradient_every = 10\n"),
               "run.measure_gradient_every");
}

TEST(ScenarioLoader, PolicyKnobsUnderAnotherPolicyAreRejected) {
  const scenario_error e = single_error(parse("[server]\ndeadline = \"5s\"\n"), "server.deadline");
  EXPECT_TRUE(contains(e.message, "policy = \"deadline\"")) << e.message;
  EXPECT_EQ(e.line, 2);
  single_error(parse("[server]\npolicy = \"deadline\"\nover_select = 1.5\n"), "server.over_select");
  EXPECT_TRUE(parse("[server]\npolicy = \"deadline\"\ndeadline = \"5s\"\n").ok());
  EXPECT_TRUE(parse("[server]\npolicy = \"first-m\"\nover_select = 2\n").ok());
  scenario s;
  s.data.path = existing_dir();
  s.server.policy = policy_kind::first_m;
  s.server.over_select = 1.5;
  const load_result r = parse_scenario(to_toml(s), "resolved.toml");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->server.over_select, 1.5);
}

TEST(ScenarioLoader, PrecisionAndItsDeviceSpeedsAreRead) {
  const load_result d = parse("[clients.compute]\ngflops = 3\n");
  ASSERT_TRUE(d.ok()) << all_errors(d);
  EXPECT_EQ(d.value->model.precision, forward_precision::f32);
  // Unset (0), the low-precision speeds are the f32 speed, also for scenarios built in code.
  EXPECT_EQ(d.value->clients.compute.gflops_bf16, 0.0);
  EXPECT_EQ(d.value->clients.compute.gflops_int8, 0.0);

  const load_result r =
      parse("[model]\nprecision = \"bf16\"\n[clients.compute]\ngflops = 3\ngflops_bf16 = 12\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->model.precision, forward_precision::bf16);
  EXPECT_EQ(r.value->clients.compute.gflops_bf16, 12.0);
  EXPECT_EQ(r.value->clients.compute.gflops_int8, 0.0);
  const scenario_error e =
      single_error(parse("[model]\nprecision = \"fp16\"\n"), "model.precision");
  EXPECT_TRUE(contains(e.message, "\"int8\"")) << e.message;
  single_error(parse("[clients.compute]\ngflops_int8 = -1\n"), "clients.compute.gflops_int8");
}

TEST(ScenarioLoader, AsyncKeysAreReadAndCheckedAgainstThePolicy) {
  const load_result r = parse(
      "[server]\npolicy = \"async\"\nconcurrency = 3\nbuffer = 2\nstaleness = \"hinge\"\n"
      "staleness_exponent = 10\nstaleness_hinge = 4\nmax_staleness = 8\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->server.concurrency, 3);
  EXPECT_EQ(r.value->server.buffer, 2);
  EXPECT_EQ(r.value->server.staleness, staleness_kind::hinge);
  EXPECT_EQ(r.value->server.staleness_exponent, 10.0);
  EXPECT_EQ(r.value->server.staleness_hinge, 4);
  EXPECT_EQ(r.value->server.max_staleness, 8);
  // Unset, concurrency follows clients.per_round, so switching the policy needs nothing else.
  const load_result d =
      parse("[clients]\ncount = 20\nper_round = 7\n[server]\npolicy = \"async\"\n");
  ASSERT_TRUE(d.ok()) << all_errors(d);
  EXPECT_EQ(d.value->server.concurrency, 7);
  // Async knobs under another policy, and each staleness knob under the wrong weighting.
  for (const char* key : {"concurrency = 2", "buffer = 2", "staleness = \"poly\"",
                          "staleness_exponent = 1", "max_staleness = 3"}) {
    const scenario_error e = single_error(parse(std::string("[server]\n") + key + "\n"),
                                          "server." + std::string(key).substr(0, std::string(key).find(' ')));
    EXPECT_TRUE(contains(e.message, "policy = \"async\"")) << e.message;
  }
  single_error(parse("[server]\npolicy = \"async\"\nstaleness_hinge = 2\n"), "server.staleness_hinge");
  single_error(parse("[server]\npolicy = \"async\"\nstaleness = \"constant\"\nstaleness_exponent = 2\n"),
               "server.staleness_exponent");
  const scenario_error c = single_error(
      parse("[clients]\ncount = 4\nper_round = 4\n[server]\npolicy = \"async\"\nconcurrency = 5\n"),
      "server.concurrency");
  EXPECT_TRUE(contains(c.message, "[1, 4]")) << c.message;
  single_error(parse("[server]\npolicy = \"async\"\nbuffer = 0\n"), "server.buffer");
  single_error(parse("[server]\npolicy = \"async\"\nstaleness = \"linear\"\n"), "server.staleness");
  // The resolved file of an async scenario loads back to the same scenario.
  scenario s;
  s.data.path = existing_dir();
  s.server.policy = policy_kind::async;
  s.server.concurrency = 6;
  s.server.buffer = 3;
  s.server.staleness = staleness_kind::hinge;
  s.server.staleness_hinge = 2;
  s.server.max_staleness = 5;
  const load_result back = parse_scenario(to_toml(s), "resolved.toml");
  ASSERT_TRUE(back.ok()) << all_errors(back) << to_toml(s);
  expect_same(*back.value, s);
}

TEST(ScenarioLoader, DownloadModeIsReadAndReplayIsForBaffleOnly) {
  const load_result r = parse("[baffle]\ndownload = \"replay\"\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.value->baffle.download, download_mode::replay);
  EXPECT_EQ(scenario{}.baffle.download, download_mode::weights);
  single_error(parse("[baffle]\ndownload = \"delta\"\n"), "baffle.download");
  EXPECT_EQ(parse("[baffle]\ndownload = \"auto\"\n").value->baffle.download,
            download_mode::automatic);
  const scenario_error e = single_error(
      parse("[train]\nalgorithm = \"fedavg\"\n[baffle]\ndownload = \"replay\"\n"), "baffle.download");
  EXPECT_TRUE(contains(e.message, "baffle")) << e.message;
  EXPECT_TRUE(parse("[train]\nalgorithm = \"fedavg\"\n[baffle]\ndownload = \"weights\"\n").ok());
}

TEST(ScenarioLoader, ShippedScenarioFilesAreValid) {
  // tests/scenarios/loader_test.cpp -> the source tree's scenarios/ folder.
  const std::filesystem::path dir =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "scenarios";
  int checked = 0;
  // Recursive: the study bases in scenarios/studies/ are shipped too.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    // data.path is overridden so the check does not need the data set installed.
    const load_result r = load_scenario(entry.path().string(), {"data.path=" + existing_dir()});
    EXPECT_TRUE(r.ok()) << all_errors(r);
    ++checked;
  }
  RecordProperty("scenario_files", checked);
  EXPECT_GE(checked, 13);  // 10 at the top level and 3 study bases at the time of writing
}

/// Every result is either a scenario or at least one error, each saying something.
void expect_sane(const load_result& r, const std::string& input) {
  EXPECT_NE(r.ok(), r.errors.size() > 0) << input;
  EXPECT_EQ(r.value.has_value(), r.errors.empty()) << input;
  for (const scenario_error& e : r.errors) {
    EXPECT_FALSE(e.message.empty()) << input;
    EXPECT_EQ(e.file, "mutant.toml");
    EXPECT_FALSE(e.to_string().empty());
  }
}

TEST(ScenarioLoader, MutatedFilesNeverCrash) {
  const std::string valid = full_file();
  const std::string replacements = std::string("=[]\"'.\n#0-x{},\\\xff") + '\0';
  int parsed = 0;
  for (size_t pos = 0; pos < valid.size(); ++pos) {
    std::vector<std::string> mutants;
    mutants.push_back(valid.substr(0, pos));                          // truncated
    mutants.push_back(valid.substr(0, pos) + valid.substr(pos + 1));  // deleted
    mutants.push_back(valid.substr(0, pos + 1) + valid.substr(pos));  // duplicated
    mutants.push_back(valid.substr(0, pos) + valid.substr(pos, 7) + valid.substr(pos));  // repeated
    for (char c : replacements) {
      std::string m = valid;
      m[pos] = c;
      mutants.push_back(std::move(m));
    }
    for (const std::string& m : mutants) {
      expect_sane(parse_scenario(m, "mutant.toml"), m);
      ++parsed;
    }
  }
  EXPECT_GT(parsed, 9000);  // about 20 mutants per character
}

TEST(ScenarioLoader, HostileInputNeverCrashes) {
  const std::vector<std::string> inputs = {
      std::string("\0\0\0", 3),
      "\xff\xfe\xfd binary",
      "\xef\xbb\xbfname = \"bom\"\n",
      "[model]\nhidden = [1, \"a\", 2.5, [3], {x = 1}, 1979-05-27]\n",
      "[model]\nhidden = " + std::string(200, '[') + std::string(200, ']') + "\n",
      "[model]\nhidden = [" + std::string(100000, '1') + "]\n",
      "seed = 9223372036854775807\n",
      "seed = -9223372036854775808\n",
      "[train]\nlr = inf\nbeta1 = -inf\nbeta2 = nan\n",
      "[clients]\nlink = 5\ncompute = []\n",
      "[clients.link.latency]\n",
      "[clients.link]\nlatency = \"" + std::string(10000, '9') + "ms\"\n",
      "name = \"" + std::string(100000, 'x') + "\"\n",
      std::string(5000, '['),
      "[a.b.c.d.e.f.g]\n",
      "[=",
      "[[=",
      "[[[1]]]",
      "[[[]]",
      "[[[a]]]",  // toml++ 3.3 asserted on these in debug builds
      "data = { path = 3, dataset = [] }\n",
      "\n\n\n[train]\n" + std::string(300, 'r') + " = 1\n",
  };
  for (const std::string& in : inputs) expect_sane(parse_scenario(in, "mutant.toml"), in);
  for (const std::string& o :
       {std::string("="), std::string("=5"), std::string("..=1"), std::string("train..rounds=1"),
        std::string("train.rounds==1"), std::string("model.hidden=[1,"),
        std::string("name=\n[x]\ny=1"), std::string("clients.link.latency.x=1")}) {
    expect_sane(parse_scenario("", "mutant.toml", {o}), o);
  }
  expect_sane(parse_scenario("clients = 1\n", "mutant.toml", {"clients.count=1"}), "blocked");
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

TEST(ScenarioLoader, FleetDistributionsAndRatesAreParsed) {
  const load_result r = parse(
      "[clients]\ndropout = 0.1\n"
      "[clients.link]\nlatency = { dist = \"lognormal\", median = \"50ms\", sigma = 0.5 }\n"
      "up = \"1Mbps\"\ndown = \"20MBps\"\n"
      "[clients.compute]\ngflops = 5\nspread = { dist = \"uniform\", min = 0.5, max = 2 }\n"
      "stragglers = 0.2\nstraggler_slowdown = 4\njitter = 0.1\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  const scenario& s = *r.value;
  EXPECT_EQ(s.clients.link.latency, distribution::lognormal(0.05, 0.5));
  EXPECT_EQ(s.clients.link.up_bytes_per_sec, 125000.0);
  EXPECT_EQ(s.clients.link.down_bytes_per_sec, 2e7);
  EXPECT_EQ(s.clients.compute.spread, distribution::uniform(0.5, 2.0));
  EXPECT_EQ(s.clients.compute.stragglers, 0.2);
  EXPECT_EQ(s.clients.compute.straggler_slowdown, 4.0);
  EXPECT_EQ(s.clients.compute.jitter, 0.1);
  EXPECT_EQ(s.clients.dropout, 0.1);
  // And back through to_toml.
  const load_result again = parse_scenario(to_toml(s), "resolved.toml");
  ASSERT_TRUE(again.ok()) << all_errors(again) << to_toml(s);
  expect_same(*again.value, s);
  EXPECT_EQ(again.value->clients.compute.spread, s.clients.compute.spread);
}

TEST(ScenarioLoader, BadDistributionsNameTheFieldAndTheAllowedShapes) {
  const scenario_error d =
      single_error(parse("[clients.link]\nlatency = { dist = \"gamma\", median = \"5ms\" }\n"),
                   "clients.link.latency.dist");
  EXPECT_TRUE(contains(d.message, "\"lognormal\"")) << d.message;
  // A misspelt field: reported as unknown, and the field it should have been as missing.
  const load_result missing =
      parse("[clients.link]\nlatency = { dist = \"uniform\", min = \"5ms\", mx = \"9ms\" }\n");
  ASSERT_EQ(missing.errors.size(), 2u) << all_errors(missing);
  EXPECT_TRUE(contains(all_errors(missing), "clients.link.latency.mx")) << all_errors(missing);
  EXPECT_TRUE(contains(all_errors(missing), "allowed: dist, min, max")) << all_errors(missing);
  EXPECT_TRUE(contains(all_errors(missing), "clients.link.latency.max: missing"))
      << all_errors(missing);
  const scenario_error u = single_error(
      parse("[clients.link]\nlatency = { dist = \"uniform\", min = 5, max = \"9ms\" }\n"),
      "clients.link.latency.min");
  EXPECT_TRUE(contains(u.message, "duration")) << u.message;
  const scenario_error rate =
      single_error(parse("[clients.link]\nup = \"fast\"\n"), "clients.link.up");
  EXPECT_TRUE(contains(rate.message, "Mbps")) << rate.message;
  single_error(parse("[clients.compute]\nstraggler_slowdown = 0.5\n"),
               "clients.compute.straggler_slowdown");
  single_error(parse("[clients]\ndropout = 1.0\n"), "clients.dropout");
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

TEST(ScenarioLoader, LenetKeysAreCheckedAgainstEachOther) {
  const load_result ok = parse(
      "[data]\nimage_size = 32\n[model]\narch = \"lenet\"\nchannels = [8, 16]\n"
      "activation = \"hardswish\"\nnorm = \"group\"\ngroups = 4\n");
  ASSERT_TRUE(ok.ok()) << all_errors(ok);
  EXPECT_EQ(ok.value->model.channels, (std::vector<int>{8, 16}));
  EXPECT_EQ(ok.value->data.image_size, 32);
  const scenario_error g = single_error(
      parse("[model]\narch = \"lenet\"\nchannels = [6, 16]\nnorm = \"group\"\ngroups = 4\n"),
      "model.groups");
  EXPECT_TRUE(contains(g.message, "divide")) << g.message;
  single_error(parse("[model]\narch = \"lenet\"\nchannels = [6, 16, 32]\n"), "model.channels");
  const scenario_error a =
      single_error(parse("[model]\nactivation = \"gelu\"\n"), "model.activation");
  EXPECT_TRUE(contains(a.message, "lenet")) << a.message;
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

TEST(ScenarioLoader, SyntheticDataNeedsNoPathAndWrnChecksItsShape) {
  const load_result syn = parse_scenario(
      "[data]\ndataset = \"synthetic\"\npath = \"/no/such/folder\"\nsynthetic = \"mixture\"\n"
      "partition = \"dirichlet\"\ndirichlet_alpha = 0.1\n",
      "synthetic.toml");
  ASSERT_TRUE(syn.ok()) << all_errors(syn);
  EXPECT_EQ(syn.value->data.partition, partition_kind::dirichlet);
  EXPECT_EQ(syn.value->data.synthetic, synthetic_kind::mixture);
  single_error(parse("[data]\nsynthetic_noise = 1.5\n"), "data.synthetic_noise");
  single_error(parse("[data]\npartition = \"label-skew\"\n"), "data.partition");
  single_error(parse("[model]\narch = \"wrn\"\ndepth = 12\n"), "model.depth");
  single_error(parse("[model]\narch = \"wrn\"\nnorm = \"none\"\n"), "model.norm");
  EXPECT_TRUE(parse("[model]\narch = \"wrn\"\ndepth = 16\nwidth = 4\n").ok());
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

TEST(ScenarioLoader, AMissingAvailabilityTraceIsNamed) {
  const scenario_error e =
      single_error(parse("[clients.availability]\ntrace = \"/no/such/trace.csv\"\n"),
                   "clients.availability.trace");
  EXPECT_TRUE(contains(e.message, "not found")) << e.message;
  EXPECT_EQ(e.line, 2);
}

}  // namespace
}  // namespace baffle
