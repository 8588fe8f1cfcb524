// Tests of `baffle sweep`: the pure grid helpers (top-level splitting, --grid parsing, expansion
// and point naming) and, end to end through build/tools/baffle (from BAFFLE_BINARY_DIR), tiny
// sweeps: run folders and index.csv, bad input writing nothing, a failing point, default folders,
// identical models for --jobs 1 and 2, and synthetic and CIFAR-10 data.
#include "tools/sweep.hpp"

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/models/cifar_fixture.hpp"
#include "tests/tools/binary_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using namespace baffle;
using namespace baffle::e2e;
using strings = std::vector<std::string>;

// ---- pure helpers ----

TEST(SplitTopLevel, SplitsOnCommasOutsideBracketsAndQuotes) {
  EXPECT_EQ(split_top_level("5,10,20").parts, (strings{"5", "10", "20"}));
  EXPECT_EQ(split_top_level("[32],[64,32]").parts, (strings{"[32]", "[64,32]"}));
  EXPECT_EQ(split_top_level("[[1,2],[3]],[]").parts, (strings{"[[1,2],[3]]", "[]"}));
  EXPECT_EQ(split_top_level("{a=1,b=2},{}").parts, (strings{"{a=1,b=2}", "{}"}));
  EXPECT_EQ(split_top_level(R"("a,b",'c,d',e)").parts, (strings{R"("a,b")", "'c,d'", "e"}));
  EXPECT_EQ(split_top_level(R"("x\",y",z)").parts, (strings{R"("x\",y")", "z"}));
  EXPECT_EQ(split_top_level(R"('x\',y)").parts, (strings{R"('x\')", "y"}));  // literal: no escapes
  EXPECT_EQ(split_top_level(R"("[",'{',"]")").parts,  // brackets inside quotes do not count
            (strings{R"("[")", "'{'", R"("]")"}));
  EXPECT_EQ(split_top_level("a,,b").parts, (strings{"a", "", "b"}));
  EXPECT_EQ(split_top_level("").parts, (strings{""}));
}

TEST(SplitTopLevel, RejectsUnbalancedBracketsAndQuotes) {
  EXPECT_FALSE(split_top_level("[1,2").ok());
  EXPECT_FALSE(split_top_level("1]").ok());
  EXPECT_FALSE(split_top_level("[1}").ok());
  EXPECT_FALSE(split_top_level("\"abc").ok());
  EXPECT_FALSE(split_top_level("'abc").ok());
  EXPECT_NE(split_top_level("[1,2").error.find("[1,2"), std::string::npos);
}

TEST(ParseGrids, ReadsKeysAndTrimmedValues) {
  const grid_parse_result r =
      parse_grids({"baffle.k=5,10", " train.lr = 0.01 , 0.003 ", "model.hidden=[32],[64,32]"});
  ASSERT_TRUE(r.ok()) << r.errors[0];
  ASSERT_EQ(r.axes.size(), 3u);
  EXPECT_EQ(r.axes[0].key, "baffle.k");
  EXPECT_EQ(r.axes[0].values, (strings{"5", "10"}));
  EXPECT_EQ(r.axes[1].key, "train.lr");
  EXPECT_EQ(r.axes[1].values, (strings{"0.01", "0.003"}));
  EXPECT_EQ(r.axes[2].values, (strings{"[32]", "[64,32]"}));
  // '=' inside a value is fine: only the first one separates the key.
  const grid_parse_result eq = parse_grids({"data.path=/a=b,/c"});
  ASSERT_TRUE(eq.ok());
  EXPECT_EQ(eq.axes[0].values, (strings{"/a=b", "/c"}));
}

TEST(ParseGrids, ReportsEverySyntaxError) {
  for (const char* bad : {"baffle.k", "=5,10", "baffle.k=", "baffle.k=  ", "baffle.k=5,,10",
                          "baffle.k=5,", "baffle.k=,5", "baffle.k=5,5", "model.hidden=[32"}) {
    const grid_parse_result r = parse_grids({bad});
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.axes.empty()) << bad;
    ASSERT_EQ(r.errors.size(), 1u) << bad;
    EXPECT_NE(r.errors[0].find(bad), std::string::npos) << r.errors[0];
  }
  const grid_parse_result dup = parse_grids({"baffle.k=5", "train.lr=1", "baffle.k=10"});
  ASSERT_EQ(dup.errors.size(), 1u);
  EXPECT_NE(dup.errors[0].find("baffle.k"), std::string::npos) << dup.errors[0];
  // All problems at once.
  EXPECT_EQ(parse_grids({"a", "b=", "c=1,1"}).errors.size(), 3u);
}

TEST(ExpandGrid, IsTheCartesianProductWithTheLastAxisFastest) {
  const std::vector<grid_axis> axes = {
      {"baffle.k", {"20", "50"}}, {"train.lr", {"0.01", "0.003"}}, {"seed", {"1"}}};
  EXPECT_EQ(grid_size(axes), 4u);
  const std::vector<grid_point> points = expand_grid(axes);
  strings names;
  for (const grid_point& p : points) names.push_back(p.name);
  EXPECT_EQ(names, (strings{"k-20_lr-0.01_seed-1", "k-20_lr-0.003_seed-1", "k-50_lr-0.01_seed-1",
                            "k-50_lr-0.003_seed-1"}));
  EXPECT_EQ(point_overrides(axes, points[1]), (strings{"baffle.k=20", "train.lr=0.003", "seed=1"}));
  EXPECT_EQ(point_overrides(axes, points[2]), (strings{"baffle.k=50", "train.lr=0.01", "seed=1"}));
  EXPECT_TRUE(expand_grid({}).empty());
  EXPECT_EQ(grid_size({}), 0u);
}

TEST(ExpandGrid, NamesAreReadableFilesystemSafeAndUnique) {
  // The brief's example.
  EXPECT_EQ(expand_grid({{"baffle.k", {"20"}}, {"train.lr", {"0.003"}}})[0].name, "k-20_lr-0.003");
  // Lists, strings, negative and exponent numbers, paths.
  EXPECT_EQ(name_piece("[64,32]"), "64_32");
  EXPECT_EQ(name_piece("[]"), "empty");
  EXPECT_EQ(name_piece("\"sgd\""), "sgd");
  EXPECT_EQ(name_piece("1e-4"), "1e-4");
  EXPECT_EQ(name_piece("-1"), "-1");
  EXPECT_EQ(name_piece("/usr/share/x y"), "usr_share_x_y");
  EXPECT_EQ(name_piece("20ms"), "20ms");
  for (const grid_point& p : expand_grid(
           {{"model.hidden", {"[32]", "[64,32]", "[]"}}, {"data.path", {"../a/b", "\"c d\""}}})) {
    EXPECT_EQ(p.name.find('/'), std::string::npos) << p.name;
    EXPECT_EQ(p.name.find(' '), std::string::npos) << p.name;
    EXPECT_NE(p.name, ".");
    EXPECT_NE(p.name, "..");
  }
  // Same leaf swept twice: the labels keep enough of the key to differ.
  EXPECT_EQ(
      axis_labels(
          {{"clients.link.latency", {"1"}}, {"server.link.latency", {"1"}}, {"baffle.k", {"1"}}}),
      (strings{"clients.link.latency", "server.link.latency", "k"}));
  EXPECT_EQ(axis_labels({{"train.lr", {"1"}}, {"server.lr", {"1"}}}),
            (strings{"train.lr", "server.lr"}));
  // Values that clean up to the same text still get distinct folders.
  const std::vector<grid_point> clash = expand_grid({{"model.hidden", {"[32]", "32", "\"32\""}}});
  ASSERT_EQ(clash.size(), 3u);
  EXPECT_EQ(clash[0].name, "hidden-32");
  EXPECT_EQ(clash[1].name, "hidden-32-2");
  EXPECT_EQ(clash[2].name, "hidden-32-3");
  // Case-insensitive file systems: names differing only in case are made distinct too.
  const std::vector<grid_point> cased = expand_grid({{"train.optimizer", {"adam", "ADAM"}}});
  EXPECT_EQ(cased[1].name, "optimizer-ADAM-2");
  // Long values are cut to a bounded, still unique name.
  const std::string long_a(300, 'a');
  const std::vector<grid_point> longs = expand_grid({{"name", {long_a, long_a + "b"}}});
  EXPECT_LE(longs[0].name.size(), max_point_name);
  EXPECT_LE(longs[1].name.size(), max_point_name);
  EXPECT_NE(longs[0].name, longs[1].name);
}

// ---- end to end ----

/// index.csv as rows of column -> cell (no quoted cells in these tests).
std::vector<std::map<std::string, std::string>> read_index(const fs::path& path) {
  std::vector<std::map<std::string, std::string>> rows;
  const strings lines = lines_of(read_text(path));
  if (lines.empty()) return rows;
  const strings header = split(lines[0], ',');
  for (size_t i = 1; i < lines.size(); ++i) {
    const strings cells = split(lines[i], ',');
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < header.size() && c < cells.size(); ++c) row[header[c]] = cells[c];
    rows.push_back(std::move(row));
  }
  return rows;
}

/// 3 rounds of 4 clients on 2000 training and 500 test images, evaluated once at the end.
strings tiny_sets() {
  return {"--set", "data.train_subset=2000", "--set", "data.test_subset=500",
          "--set", "train.rounds=3",         "--set", "train.eval_every=3",
          "--set", "clients.count=4",        "--set", "clients.per_round=4"};
}

const std::string index_header_tail =
    "final_test_acc,final_test_loss,rounds,sim_time_s,wall_time_s,bytes_up_total,"
    "bytes_down_total,forward_passes_total,model_digest,status,dir";

/// A fresh working folder per test (baffle_sweep_XXXXXX); runs the baffle binary in it.
class Sweep : public baffle_binary_test {
 protected:
  Sweep() : baffle_binary_test("sweep") {}
};

TEST_F(Sweep, TwoPointsGiveTwoRunFoldersAndAnIndexAndJobsDoNotChangeTheModels) {
  const cli_result one = baffle(concat(
      {"sweep", quickstart_.string(), "--grid", "baffle.k=5,10", "--out", "s1", "--jobs", "1"},
      tiny_sets()));
  ASSERT_EQ(one.exit_code, 0) << show(one);

  for (const char* point : {"k-5", "k-10"}) {
    for (const char* f : {"rounds.csv", "summary.json", "scenario.toml"})
      EXPECT_TRUE(fs::exists(work_ / "s1" / point / f)) << point << "/" << f;
    EXPECT_FALSE(fs::exists(work_ / "s1" / point / "stderr.log")) << point;
  }
  EXPECT_TRUE(contains(read_text(work_ / "s1" / "k-5" / "scenario.toml"), "k = 5"));
  EXPECT_TRUE(contains(read_text(work_ / "s1" / "k-10" / "scenario.toml"), "k = 10"));

  // index.csv: the point, the swept key, the summary columns, status and dir.
  const strings lines = lines_of(read_text(work_ / "s1" / "index.csv"));
  ASSERT_EQ(lines.size(), 3u) << read_text(work_ / "s1" / "index.csv");
  EXPECT_EQ(lines[0], "point,baffle.k," + index_header_tail);
  const auto rows = read_index(work_ / "s1" / "index.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("point"), "k-5");
  EXPECT_EQ(rows[0].at("baffle.k"), "5");
  EXPECT_EQ(rows[1].at("point"), "k-10");
  EXPECT_EQ(rows[1].at("baffle.k"), "10");
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("status"), "ok");
    EXPECT_EQ(row.at("rounds"), "3");
    EXPECT_EQ(row.at("dir"), (fs::path("s1") / row.at("point")).string());
    const nlohmann::json s =
        nlohmann::json::parse(read_text(work_ / "s1" / row.at("point") / "summary.json"));
    EXPECT_EQ(row.at("model_digest"), s.value("model_digest", "?"));
    EXPECT_EQ(std::stod(row.at("final_test_acc")), s.value("final_test_acc", -1.0));
    EXPECT_EQ(std::stoll(row.at("forward_passes_total")), s.value("forward_passes_total", -1LL));
  }
  // More perturbations, more forward passes.
  EXPECT_LT(std::stoll(rows[0].at("forward_passes_total")),
            std::stoll(rows[1].at("forward_passes_total")));

  // Progress: one line per finished point; a summary line on stdout.
  EXPECT_TRUE(contains(one.err, "[1/2] k-5 acc ")) << show(one);
  EXPECT_TRUE(contains(one.err, "[2/2] k-10 acc ")) << show(one);
  EXPECT_TRUE(contains(one.out, "2 ok, 0 failed")) << show(one);

  // Two at a time, one thread each, quiet: the same models.
  const cli_result two =
      baffle(concat({"sweep", quickstart_.string(), "--grid", "baffle.k=5,10", "--out", "s2",
                     "--jobs", "2", "--threads-per-job", "1", "-q"},
                    tiny_sets()));
  ASSERT_EQ(two.exit_code, 0) << show(two);
  EXPECT_EQ(two.err, "") << show(two);
  const auto rows2 = read_index(work_ / "s2" / "index.csv");
  ASSERT_EQ(rows2.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(rows2[i].at("point"), rows[i].at("point"));
    EXPECT_EQ(rows2[i].at("model_digest"), rows[i].at("model_digest"));
    EXPECT_EQ(rows2[i].at("final_test_acc"), rows[i].at("final_test_acc"));
  }
}

TEST_F(Sweep, AnInvalidPointExitsTwoNamesItAndWritesNothing) {
  const cli_result r =
      baffle(concat({"sweep", quickstart_.string(), "--grid", "baffle.k=5,-1"}, tiny_sets()));
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "point k--1")) << show(r);
  EXPECT_TRUE(contains(r.err, "baffle.k = -1")) << show(r);
  EXPECT_FALSE(contains(r.err, "point k-5")) << show(r);
  EXPECT_TRUE(contains(r.err, "nothing was run or written")) << show(r);

  // An error every point shares is printed once; with --out nothing is created either.
  const cli_result all = baffle(concat({"sweep", quickstart_.string(), "--grid", "baffle.k=5,10",
                                        "--set", "train.lr=-1", "--out", "out"},
                                       tiny_sets()));
  EXPECT_EQ(all.exit_code, 2) << show(all);
  EXPECT_TRUE(contains(all.err, "all 2 points")) << show(all);
  EXPECT_TRUE(work_entries().empty()) << show(all);

  // Checked like `baffle run` checks before writing: a point whose clients get no data is bad
  // input too.
  const cli_result data =
      baffle({"sweep", quickstart_.string(), "--grid", "clients.count=4,3000", "--set",
              "data.train_subset=2000", "--set", "clients.per_round=4", "--out", "out"});
  EXPECT_EQ(data.exit_code, 2) << show(data);
  EXPECT_TRUE(contains(data.err, "point count-3000")) << show(data);
  EXPECT_TRUE(contains(data.err, "no training images")) << show(data);
  EXPECT_TRUE(work_entries().empty()) << show(data);
}

TEST_F(Sweep, GridSyntaxErrorsExitTwoAndWriteNothing) {
  for (const strings& grids :
       {strings{"--grid", "baffle.k"}, strings{"--grid", "baffle.k="},
        strings{"--grid", "baffle.k=5,,10"},
        strings{"--grid", "baffle.k=5", "--grid", "baffle.k=10"},
        strings{"--grid", "model.hidden=[32"}, strings{"--grid", "baffle.kk=5"},
        strings{"--grid", "baffle.k=5,10", "--set", "baffle.k=20"}, strings{}}) {
    const cli_result r = baffle(concat({"sweep", quickstart_.string(), "--out", "out"}, grids));
    EXPECT_EQ(r.exit_code, 2) << show(r);
    EXPECT_FALSE(r.err.empty()) << show(r);
  }
  EXPECT_TRUE(work_entries().empty());
}

TEST_F(Sweep, AFailedPointIsReportedWithItsStderrAndTheOthersStillRun) {
  // The second point's summary.json cannot be written: a non-empty folder is in its way.
  fs::create_directories(work_ / "s" / "k-10" / "summary.json" / "blocker");
  const cli_result r = baffle(concat(
      {"sweep", quickstart_.string(), "--grid", "baffle.k=5,10", "--out", "s"}, tiny_sets()));
  EXPECT_EQ(r.exit_code, 1) << show(r);
  EXPECT_TRUE(contains(r.err, "k-10 FAILED: exit 1")) << show(r);
  EXPECT_TRUE(contains(r.err, "summary.json")) << show(r);
  EXPECT_TRUE(contains(read_text(work_ / "s" / "k-10" / "stderr.log"), "summary.json"));
  const auto rows = read_index(work_ / "s" / "index.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("status"), "ok");
  EXPECT_FALSE(rows[0].at("model_digest").empty());
  EXPECT_EQ(rows[1].at("status"), "failed");
  EXPECT_EQ(rows[1].at("model_digest"), "");
  EXPECT_TRUE(contains(r.out, "1 ok, 1 failed")) << show(r);
}

/// 2 rounds of 2 clients, K = 4, evaluated once at the end; any data set.
strings two_round_sets() {
  return {"--set", "train.rounds=2",  "--set", "train.eval_every=2", "--set", "baffle.k=4",
          "--set", "clients.count=2", "--set", "clients.per_round=2"};
}

/// Every row of DIR/index.csv has status ok; returns the rows.
std::vector<std::map<std::string, std::string>> expect_all_ok(const fs::path& index,
                                                              size_t points) {
  const auto rows = read_index(index);
  EXPECT_EQ(rows.size(), points) << read_text(index);
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("status"), "ok") << row.at("point");
    EXPECT_EQ(row.at("rounds"), "2") << row.at("point");
    EXPECT_FALSE(row.at("model_digest").empty()) << row.at("point");
  }
  return rows;
}

TEST_F(Sweep, SyntheticDataNeedsNoDataFilesAndEveryPointRuns) {
  // data.path names no folder: synthetic data is generated, never read.
  const cli_result r = baffle(
      concat({"sweep", quickstart_.string(), "--grid", "data.synthetic=teacher,mixture", "--set",
              "data.dataset=synthetic", "--set", "data.path=no-such-folder", "--set",
              "data.synthetic_train=300", "--set", "data.synthetic_test=100", "--out", "s", "-q"},
             two_round_sets()));
  ASSERT_EQ(r.exit_code, 0) << show(r);
  const auto rows = expect_all_ok(work_ / "s" / "index.csv", 2);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("point"), "synthetic-teacher");
  EXPECT_EQ(rows[1].at("point"), "synthetic-mixture");
  // Each point got its own kind of data, not the first point's.
  EXPECT_NE(rows[0].at("model_digest"), rows[1].at("model_digest"));
}

TEST_F(Sweep, EachPointsSyntheticDataIsCheckedWithItsOwnSettings) {
  // One training image leaves a client without data; only that point is refused.
  const cli_result r =
      baffle(concat({"sweep", quickstart_.string(), "--grid", "data.synthetic_train=300,1", "--set",
                     "data.dataset=synthetic", "--set", "data.synthetic_test=100", "--out", "s"},
                    two_round_sets()));
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "point synthetic_train-1: ")) << show(r);
  EXPECT_TRUE(contains(r.err, "no training images")) << show(r);
  EXPECT_FALSE(contains(r.err, "synthetic_train-300")) << show(r);
  EXPECT_TRUE(work_entries().empty()) << show(r);
}

TEST_F(Sweep, LabelSkewedPartitionsAreCheckedOnTheRealLabels) {
  const cli_result r =
      baffle(concat({"sweep", quickstart_.string(), "--grid", "data.partition=iid,dirichlet,shards",
                     "--set", "data.dataset=synthetic", "--set", "data.synthetic_train=300",
                     "--set", "data.synthetic_test=100", "--out", "s", "-q"},
                    two_round_sets()));
  ASSERT_EQ(r.exit_code, 0) << show(r);
  expect_all_ok(work_ / "s" / "index.csv", 3);
}

TEST_F(Sweep, CifarTenDataIsCheckedAndLoadedByTheCifarLoader) {
  const fs::path cifar = work_ / "cifar";
  fs::create_directories(cifar);
  cifar_fixture::write_fake_cifar(cifar, 20, 10);
  const auto sweep_with = [&](const std::string& out, const strings& more) {
    return baffle(concat(
        concat({"sweep", quickstart_.string(), "--grid", "train.lr=0.01,0.003", "--set",
                "data.dataset=cifar10", "--set", "data.path=" + cifar.string(), "--out", out, "-q"},
               two_round_sets()),
        more));
  };
  const auto sweep = [&](const std::string& out) { return sweep_with(out, {}); };
  const cli_result r = sweep("s");
  ASSERT_EQ(r.exit_code, 0) << show(r);
  expect_all_ok(work_ / "s" / "index.csv", 2);

  // Checked as three-channel images, as `baffle run` checks them: they cannot be padded.
  const cli_result padded = sweep_with("p", {"--set", "data.image_size=36"});
  EXPECT_EQ(padded.exit_code, 2) << show(padded);
  EXPECT_TRUE(contains(padded.err, "padding is for single-channel images")) << show(padded);
  EXPECT_FALSE(fs::exists(work_ / "p"));

  // A missing batch file is found before anything runs, and named.
  fs::remove(cifar / "test_batch.bin");
  const cli_result missing = sweep("m");
  EXPECT_EQ(missing.exit_code, 2) << show(missing);
  EXPECT_TRUE(contains(missing.err, "test_batch.bin not found")) << show(missing);
  EXPECT_FALSE(fs::exists(work_ / "m"));
}

TEST_F(Sweep, WithoutOutGoesToRunsNameSweepAndNeverOverwritesAnEarlierSweep) {
  fs::create_directories(work_ / "runs" / "quickstart-sweep");
  std::ofstream(work_ / "runs" / "quickstart-sweep" / "index.csv") << "earlier\n";
  const cli_result r = baffle(
      concat({"sweep", quickstart_.string(), "--grid", "model.hidden=[16,8]", "-q"}, tiny_sets()));
  ASSERT_EQ(r.exit_code, 0) << show(r);
  EXPECT_EQ(read_text(work_ / "runs" / "quickstart-sweep" / "index.csv"), "earlier\n");
  const fs::path next = work_ / "runs" / "quickstart-sweep-2";
  EXPECT_TRUE(fs::exists(next / "hidden-16_8" / "summary.json")) << show(r);
  // A value with a comma is quoted in index.csv.
  const strings lines = lines_of(read_text(next / "index.csv"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "point,model.hidden," + index_header_tail);
  EXPECT_EQ(lines[1].rfind("hidden-16_8,\"[16,8]\",", 0), 0u) << lines[1];
  EXPECT_TRUE(contains(r.out, "runs/quickstart-sweep-2/index.csv")) << show(r);
}

}  // namespace

namespace {

class SweepStop : public baffle_binary_test {
 protected:
  SweepStop() : baffle_binary_test("sweep_stop") {}
};

TEST_F(SweepStop, PointsStoppedBySignalsAreMarkedAndResumeToTheFullRun) {
  // Every point raises SIGINT on itself after round 2 (the BAFFLE_FAULT hook, inherited by the
  // sweep's children): each writes a checkpoint and exits 130; the index says "stopped".
  setenv("BAFFLE_FAULT", "int@2", 1);
  const cli_result stopped = baffle(concat(
      {"sweep", quickstart_.string(), "--grid", "baffle.k=5,10", "--out", "s", "--jobs", "2"},
      tiny_sets()));
  unsetenv("BAFFLE_FAULT");
  EXPECT_EQ(stopped.exit_code, 1) << show(stopped);
  EXPECT_TRUE(contains(stopped.err, "baffle run --resume s/k-5")) << show(stopped);
  for (const auto& row : read_index(work_ / "s" / "index.csv")) {
    EXPECT_EQ(row.at("status"), "stopped");
    EXPECT_EQ(row.at("model_digest"), "");
  }
  const cli_result full = baffle(concat(
      {"sweep", quickstart_.string(), "--grid", "baffle.k=5,10", "--out", "full", "--jobs", "2"},
      tiny_sets()));
  ASSERT_EQ(full.exit_code, 0) << show(full);
  const auto want = read_index(work_ / "full" / "index.csv");
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string point = want[i].at("point");
    const cli_result r = baffle({"run", "--resume", "s/" + point, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << show(r);
    EXPECT_TRUE(contains(r.out, want[i].at("model_digest"))) << point << "\n" << show(r);
  }
}

}  // namespace
