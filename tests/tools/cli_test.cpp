// End-to-end tests of the baffle command line as a user sees it: exit codes, messages, what a run
// folder holds, that results do not depend on --threads, default run folders, help and progress.
// Each test runs build/tools/baffle (from BAFFLE_BINARY_DIR) in a fresh folder under
// testing::TempDir(); runs are tiny (a few rounds on a 2000-image subset) so the suite takes
// seconds.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/tools/binary_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using namespace baffle::e2e;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

/// A tiny run: 4 rounds of 4 clients with K = 10 on 2000 training and 500 test images,
/// evaluating on rounds 2 and 4.
constexpr int tiny_rounds = 4;
constexpr int tiny_k = 10;
constexpr int tiny_clients = 4;

std::vector<std::string> tiny_sets() {
  return {"--set", "data.train_subset=2000",
          "--set", "data.test_subset=500",
          "--set", "train.rounds=" + std::to_string(tiny_rounds),
          "--set", "train.eval_every=2",
          "--set", "baffle.k=" + std::to_string(tiny_k),
          "--set", "clients.count=" + std::to_string(tiny_clients),
          "--set", "clients.per_round=" + std::to_string(tiny_clients)};
}

/// rounds.csv split into cells, with the wall_time_s column (index 2) removed.
std::vector<std::vector<std::string>> csv_without_wall_time(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : lines_of(text)) {
    std::vector<std::string> cells = split(line, ',');
    if (cells.size() > 2) cells.erase(cells.begin() + 2);
    rows.push_back(std::move(cells));
  }
  return rows;
}

/// Lines of progress output ("round 5/100 ...") in `err`.
int progress_lines(const std::string& err) {
  int n = 0;
  for (const std::string& line : lines_of(err))
    if (line.rfind("round ", 0) == 0) ++n;
  return n;
}

/// Gives each test a fresh working folder (baffle_cli_XXXXXX) and runs the baffle binary in it.
class Cli : public baffle_binary_test {
 protected:
  Cli() : baffle_binary_test("cli") {}
};

// A scenario with exactly three problems, each on its own line:
//   line 3: an out-of-range value, line 4: a wrong type, line 6: an unknown key.
constexpr const char* three_errors_toml =
    "name = \"bad\"\n"
    "[train]\n"
    "rounds = -3\n"
    "lr = \"fast\"\n"
    "[baffle]\n"
    "kk = 10\n";

TEST_F(Cli, CheckAcceptsTheQuickstart) {
  const cli_result r = baffle({"check", quickstart_.string()});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_TRUE(contains(r.out, "ok")) << show(r);
  EXPECT_TRUE(work_entries().empty());
}

TEST_F(Cli, CheckReportsEveryErrorWithFileLineKeyAndAllowedValuesThenExitsTwo) {
  write_text(work_ / "bad.toml", three_errors_toml);
  const cli_result r = baffle({"check", "bad.toml"});
  EXPECT_EQ(r.exit_code, 2) << show(r);

  // Out of range: names file:line, the key, the value and the allowed range.
  EXPECT_TRUE(contains(r.err, "bad.toml:3:")) << show(r);
  EXPECT_TRUE(contains(r.err, "train.rounds = -3")) << show(r);
  EXPECT_TRUE(contains(r.err, "must be an integer >= 1")) << show(r);
  // Wrong type: names what was expected and what it got.
  EXPECT_TRUE(contains(r.err, "bad.toml:4:")) << show(r);
  EXPECT_TRUE(contains(r.err, "train.lr = \"fast\"")) << show(r);
  EXPECT_TRUE(contains(r.err, "expected a number")) << show(r);
  EXPECT_TRUE(contains(r.err, "must be a number in (0, 1000]")) << show(r);
  // Unknown key: names it, suggests the near miss and lists the keys allowed in the table.
  EXPECT_TRUE(contains(r.err, "bad.toml:6:")) << show(r);
  EXPECT_TRUE(contains(r.err, "baffle.kk")) << show(r);
  EXPECT_TRUE(contains(r.err, "unknown key")) << show(r);
  EXPECT_TRUE(contains(r.err, "k, sigma")) << show(r);

  // All three in one go, one line each, then a count.
  int error_lines = 0;
  for (const std::string& line : lines_of(r.err))
    if (line.rfind("error: bad.toml:", 0) == 0) ++error_lines;
  EXPECT_EQ(error_lines, 3) << show(r);
  EXPECT_TRUE(contains(r.err, "3 error(s) in bad.toml")) << show(r);
  EXPECT_EQ(work_entries(), std::vector<std::string>{"bad.toml"});
}

TEST_F(Cli, RunOnABadScenarioExitsTwoAndWritesNothing) {
  write_text(work_ / "bad.toml", three_errors_toml);
  const cli_result r = baffle({"run", "bad.toml", "--out", "out"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "3 error(s) in bad.toml")) << show(r);
  EXPECT_FALSE(fs::exists(work_ / "out"));

  // Without --out, no runs/ folder either.
  const cli_result r2 = baffle({"run", "bad.toml"});
  EXPECT_EQ(r2.exit_code, 2) << show(r2);
  EXPECT_EQ(work_entries(), std::vector<std::string>{"bad.toml"});
}

TEST_F(Cli, RunWithABadSetExitsTwoNamesTheOverrideAndWritesNothing) {
  const cli_result negative =
      baffle({"run", quickstart_.string(), "--set", "train.rounds=-1", "--out", "out"});
  EXPECT_EQ(negative.exit_code, 2) << show(negative);
  EXPECT_TRUE(contains(negative.err, "train.rounds")) << show(negative);
  EXPECT_TRUE(contains(negative.err, "-1")) << show(negative);
  EXPECT_TRUE(contains(negative.err, ">= 1")) << show(negative);

  const cli_result unknown =
      baffle({"run", quickstart_.string(), "--set", "train.roundz=3", "--out", "out"});
  EXPECT_EQ(unknown.exit_code, 2) << show(unknown);
  EXPECT_TRUE(contains(unknown.err, "train.roundz")) << show(unknown);
  EXPECT_TRUE(contains(unknown.err, "rounds")) << show(unknown);

  const cli_result no_table =
      baffle({"run", quickstart_.string(), "--set", "foo.bar=1", "--out", "out"});
  EXPECT_EQ(no_table.exit_code, 2) << show(no_table);
  EXPECT_TRUE(contains(no_table.err, "foo.bar")) << show(no_table);

  const cli_result not_key_value =
      baffle({"run", quickstart_.string(), "--set", "train.rounds", "--out", "out"});
  EXPECT_EQ(not_key_value.exit_code, 2) << show(not_key_value);

  EXPECT_TRUE(work_entries().empty());
}

TEST_F(Cli, RunWithAMissingDataPathExitsTwoNamesThePathAndWritesNothing) {
  const std::string missing = (root_ / "no-such-dataset").string();
  const cli_result r =
      baffle({"run", quickstart_.string(), "--set", "data.path=" + missing, "--out", "out"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, missing)) << show(r);
  EXPECT_TRUE(contains(r.err, "data.path")) << show(r);
  EXPECT_TRUE(r.out.empty()) << show(r);
  EXPECT_TRUE(work_entries().empty());
}

TEST_F(Cli, RunWithADataPathWithoutIdxFilesExitsTwoNamesThePathAndWritesNothing) {
  const fs::path empty = root_ / "empty-dataset";
  fs::create_directories(empty);
  const cli_result r = baffle(
      concat({"run", quickstart_.string(), "--set", "data.path=" + empty.string(), "--out", "out"},
             tiny_sets()));
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, empty.string())) << show(r);
  EXPECT_TRUE(contains(r.err, "train-images-idx3-ubyte")) << show(r);
  EXPECT_TRUE(work_entries().empty());
}

TEST_F(Cli, LowPrecisionRunsAreThreadIndependentAndRunWithoutNativeInstructions) {
  const std::vector<std::string> bf16 = {"--set", "model.precision=\"bf16\"", "--set",
                                         "baffle.sigma=0.01"};
  const cli_result one = baffle(concat(
      concat({"run", quickstart_.string(), "--threads", "1", "--out", "b1", "-q"}, tiny_sets()),
      bf16));
  ASSERT_EQ(one.exit_code, 0) << show(one);
  const cli_result two = baffle(concat(
      concat({"run", quickstart_.string(), "--threads", "2", "--out", "b2", "-q"}, tiny_sets()),
      bf16));
  ASSERT_EQ(two.exit_code, 0) << show(two);
  const nlohmann::json s1 = nlohmann::json::parse(read_text(work_ / "b1" / "summary.json"));
  const nlohmann::json s2 = nlohmann::json::parse(read_text(work_ / "b2" / "summary.json"));
  EXPECT_EQ(s1["model_digest"], s2["model_digest"]);
  EXPECT_EQ(s1["precision"], "bf16");
  // The final model scored with bf16 forwards too: in summary.json and on evaluation rounds.
  ASSERT_TRUE(s1.contains("final_test_acc_lowp")) << s1.dump(2);
  EXPECT_EQ(s1["final_test_acc_lowp"], s2["final_test_acc_lowp"]);
  EXPECT_EQ(s1["final_test_loss_lowp"], s2["final_test_loss_lowp"]);
  EXPECT_NEAR(s1["final_test_acc_lowp"].get<double>(), s1["final_test_acc"].get<double>(), 0.1);
  const std::vector<std::string> lines = lines_of(read_text(work_ / "b1" / "rounds.csv"));
  ASSERT_EQ(lines.size(), 1u + tiny_rounds);
  for (int round = 1; round <= tiny_rounds; ++round) {
    const std::vector<std::string> cells = split(lines[round], ',');
    ASSERT_EQ(cells.size(), 26u) << lines[round];
    EXPECT_EQ(cells[24].empty(), round % 2 != 0) << "test_acc_lowp: " << lines[round];
  }
  // oneDNN's own fallback below avx512_bf16: the run works, says so, and summary.json names the
  // ISA its digest belongs to.
  const cli_result low = baffle(
      concat(
          concat({"run", quickstart_.string(), "--threads", "2", "--out", "b3", "-q"}, tiny_sets()),
          bf16),
      {}, {"ONEDNN_MAX_CPU_ISA=AVX512_CORE"});
  ASSERT_EQ(low.exit_code, 0) << show(low);
  EXPECT_TRUE(contains(low.err, "without native bf16")) << show(low);
  const nlohmann::json s3 = nlohmann::json::parse(read_text(work_ / "b3" / "summary.json"));
  EXPECT_EQ(s3["onednn_isa"], "avx512_core");
  EXPECT_EQ(s3["precision"], "bf16");
}

TEST_F(Cli, AnEmaRunReportsTheRawWeightsBesideTheAverage) {
  const cli_result r = baffle(concat(
      concat({"run", quickstart_.string(), "--threads", "2", "--out", "e1", "-q"}, tiny_sets()),
      {"--set", "train.ema_decay=0.995", "--set", "train.ema_every=2", "--set",
       "train.ema_warmup=true"}));
  ASSERT_EQ(r.exit_code, 0) << show(r);
  const nlohmann::json s = nlohmann::json::parse(read_text(work_ / "e1" / "summary.json"));
  ASSERT_TRUE(s.contains("final_test_acc_raw")) << s.dump(2);
  ASSERT_TRUE(s.contains("final_test_loss_raw")) << s.dump(2);
  EXPECT_NE(s["final_test_loss_raw"], s["final_test_loss"]) << "the EMA is another model";
  const std::vector<std::string> lines = lines_of(read_text(work_ / "e1" / "rounds.csv"));
  ASSERT_EQ(lines.size(), 1u + tiny_rounds);
  for (int round = 1; round <= tiny_rounds; ++round) {
    const std::vector<std::string> cells = split(lines[round], ',');
    ASSERT_EQ(cells.size(), 26u) << lines[round];
    EXPECT_EQ(cells[22].empty(), round % 2 != 0) << "test_acc_raw: " << lines[round];
  }
}

TEST_F(Cli, ResultsAreIdenticalForAnyThreadsAndNodesAndReproduceFromTheSavedScenario) {
  const cli_result one = baffle(
      concat({"run", quickstart_.string(), "--threads", "1", "--out", "t1", "-q"}, tiny_sets()));
  ASSERT_EQ(one.exit_code, 0) << show(one);
  const cli_result two = baffle(
      concat({"run", quickstart_.string(), "--threads", "2", "--nodes", "3", "--out", "t2", "-q"},
             tiny_sets()));
  ASSERT_EQ(two.exit_code, 0) << show(two);
  for (const char* f : {"scenario.toml", "rounds.csv", "summary.json"}) {
    EXPECT_TRUE(fs::exists(work_ / "t1" / f)) << f;
    EXPECT_TRUE(fs::exists(work_ / "t2" / f)) << f;
  }

  // summary.json: identical except wall_time_s.
  nlohmann::json s1 = nlohmann::json::parse(read_text(work_ / "t1" / "summary.json"));
  nlohmann::json s2 = nlohmann::json::parse(read_text(work_ / "t2" / "summary.json"));
  ASSERT_TRUE(s1.contains("wall_time_s"));
  ASSERT_TRUE(s2.contains("wall_time_s"));
  s1.erase("wall_time_s");
  s2.erase("wall_time_s");
  // The traffic between server and nodes grows with the nodes (each gets every update).
  ASSERT_TRUE(s1.contains("node_bytes_total"));
  EXPECT_LT(s1.value("node_bytes_total", 0), s2.value("node_bytes_total", 0));
  s1.erase("node_bytes_total");
  s2.erase("node_bytes_total");
  EXPECT_EQ(s1, s2) << s1.dump(2) << "\nvs\n" << s2.dump(2);
  for (const char* key :
       {"final_test_acc", "final_test_loss", "rounds", "sim_time_s", "bytes_up_total",
        "bytes_down_total", "forward_passes_total", "model_digest", "precision", "onednn_isa"})
    EXPECT_TRUE(s1.contains(key)) << key;
  EXPECT_EQ(s1.value("rounds", -1), tiny_rounds);
  EXPECT_FALSE(s1.contains("final_test_acc_lowp")) << "an f32 run has no low-precision figures";
  EXPECT_FALSE(s1.contains("final_test_acc_raw")) << "a run without an EMA has no raw figures";

  // rounds.csv: identical except the wall_time_s column.
  const std::string csv1 = read_text(work_ / "t1" / "rounds.csv");
  const std::string csv2 = read_text(work_ / "t2" / "rounds.csv");
  // ... and the node traffic, the last column.
  auto rows1 = csv_without_wall_time(csv1);
  auto rows2 = csv_without_wall_time(csv2);
  for (auto* rows : {&rows1, &rows2})
    for (auto& row : *rows) row.pop_back();
  EXPECT_EQ(rows1, rows2) << csv1 << "vs\n" << csv2;

  // The header, one row per round, test/val columns empty exactly off evaluation rounds
  // (eval_every = 2: rounds 2 and 4).
  const std::vector<std::string> lines = lines_of(csv1);
  ASSERT_EQ(lines.size(), 1u + tiny_rounds) << csv1;
  EXPECT_EQ(lines[0],
            "round,sim_time_s,wall_time_s,train_loss,test_loss,test_acc,val_loss,val_acc,"
            "selected,participants,dropped,late,bytes_up,bytes_down,forward_passes,"
            "wasted_forward_passes,stale_mean,stale_max,grad_cosine,grad_norm_ratio,true_grad_norm,"
            "test_loss_raw,test_acc_raw,test_loss_lowp,test_acc_lowp,node_bytes");
  int64_t per_participant = -1;
  int64_t bytes_up_total = 0;
  for (int round = 1; round <= tiny_rounds; ++round) {
    const std::vector<std::string> cells = split(lines[round], ',');
    ASSERT_EQ(cells.size(), 26u) << lines[round];
    EXPECT_EQ(cells[0], std::to_string(round));
    const bool eval = round % 2 == 0;
    for (int col = 4; col <= 7; ++col)
      EXPECT_EQ(cells[col].empty(), !eval)
          << "round " << round << " column " << col << ": " << lines[round];
    EXPECT_EQ(cells[8], std::to_string(tiny_clients)) << "selected: " << lines[round];
    EXPECT_EQ(cells[10], "0") << "dropped: " << lines[round];
    EXPECT_EQ(cells[11], "0") << "late: " << lines[round];
    EXPECT_EQ(cells[15], "0") << "wasted_forward_passes: " << lines[round];
    EXPECT_EQ(cells[16], "0.0000") << "stale_mean (sync): " << lines[round];
    EXPECT_EQ(cells[17], "0") << "stale_max (sync): " << lines[round];
    EXPECT_EQ(cells[21] + cells[22], "") << "test_*_raw (no EMA): " << lines[round];
    EXPECT_EQ(cells[23] + cells[24], "") << "test_*_lowp (f32): " << lines[round];
    const int64_t participants = std::stoll(cells[9]);
    const int64_t bytes_up = std::stoll(cells[12]);
    EXPECT_EQ(participants, tiny_clients) << lines[round];
    ASSERT_GT(participants, 0) << lines[round];
    EXPECT_EQ(bytes_up % participants, 0) << lines[round];
    if (per_participant < 0) per_participant = bytes_up / participants;
    EXPECT_EQ(bytes_up, participants * per_participant) << lines[round];
    bytes_up_total += bytes_up;
  }
  // K floats of 4 bytes each plus a small header.
  EXPECT_GE(per_participant, 4 * tiny_k);
  EXPECT_LE(per_participant, 4 * tiny_k + 64);
  EXPECT_EQ(s1.value("bytes_up_total", int64_t{-1}), bytes_up_total);

  // The saved scenario is valid on its own and reproduces the run with no --set.
  const cli_result check = baffle({"check", "t1/scenario.toml"});
  EXPECT_EQ(check.exit_code, 0) << show(check);
  const cli_result again =
      baffle({"run", "t1/scenario.toml", "--threads", "2", "--out", "t3", "-q"});
  ASSERT_EQ(again.exit_code, 0) << show(again);
  const nlohmann::json s3 = nlohmann::json::parse(read_text(work_ / "t3" / "summary.json"));
  EXPECT_EQ(s3.value("model_digest", "?"), s1.value("model_digest", "!"));
  EXPECT_EQ(csv_without_wall_time(read_text(work_ / "t3" / "rounds.csv")),
            csv_without_wall_time(csv1));
}

TEST_F(Cli, RunWithoutOutGoesToRunsNameAndNeverOverwritesAnEarlierRun) {
  const std::vector<std::string> args = concat({"run", quickstart_.string(), "-q"}, tiny_sets());
  const cli_result first = baffle(args);
  ASSERT_EQ(first.exit_code, 0) << show(first);
  const fs::path base = work_ / "runs" / "quickstart";
  ASSERT_TRUE(fs::exists(base / "summary.json")) << show(first);
  EXPECT_TRUE(fs::exists(base / "rounds.csv"));
  EXPECT_TRUE(fs::exists(base / "scenario.toml"));
  EXPECT_TRUE(contains(first.out, "runs/quickstart")) << show(first);
  const std::string first_summary = read_text(base / "summary.json");
  const std::string first_rounds = read_text(base / "rounds.csv");

  const cli_result second = baffle(args);
  ASSERT_EQ(second.exit_code, 0) << show(second);
  const fs::path next = work_ / "runs" / "quickstart-2";
  EXPECT_TRUE(fs::exists(next / "summary.json")) << show(second);
  EXPECT_TRUE(fs::exists(next / "rounds.csv"));
  EXPECT_TRUE(contains(second.out, "runs/quickstart-2")) << show(second);
  // The first run is untouched (byte for byte, wall times included).
  EXPECT_EQ(read_text(base / "summary.json"), first_summary);
  EXPECT_EQ(read_text(base / "rounds.csv"), first_rounds);

  const cli_result third = baffle(args);
  ASSERT_EQ(third.exit_code, 0) << show(third);
  EXPECT_TRUE(fs::exists(work_ / "runs" / "quickstart-3" / "summary.json")) << show(third);
}

TEST_F(Cli, RunHelpExitsZeroAndNamesThreadsSetAndOut) {
  const cli_result r = baffle({"run", "--help"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  for (const char* opt : {"--threads", "--set", "--out", "--quiet"})
    EXPECT_TRUE(contains(r.out, opt)) << opt << "\n" << show(r);
}

TEST_F(Cli, TopLevelHelpExitsZeroAndNamesTheSubcommands) {
  const cli_result r = baffle({"--help"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  EXPECT_TRUE(contains(r.out, "run")) << show(r);
  EXPECT_TRUE(contains(r.out, "check")) << show(r);
}

// The top-level help must tell a new user the run options exist, not only `baffle run --help`.
TEST_F(Cli, TopLevelHelpNamesThreadsSetAndOut) {
  const cli_result r = baffle({"--help"});
  EXPECT_EQ(r.exit_code, 0) << show(r);
  for (const char* opt : {"--threads", "--set", "--out"})
    EXPECT_TRUE(contains(r.out, opt)) << opt << "\n" << show(r);
}

TEST_F(Cli, UnknownOptionsAndSubcommandsExitTwo) {
  const cli_result top = baffle({"--bogus"});
  EXPECT_EQ(top.exit_code, 2) << show(top);
  const cli_result run = baffle({"run", quickstart_.string(), "--bogus"});
  EXPECT_EQ(run.exit_code, 2) << show(run);
  EXPECT_TRUE(contains(run.err, "--bogus")) << show(run);
  const cli_result check = baffle({"check", quickstart_.string(), "--threads", "2"});
  EXPECT_EQ(check.exit_code, 2) << show(check);
  const cli_result sub = baffle({"frobnicate"});
  EXPECT_EQ(sub.exit_code, 2) << show(sub);
  const cli_result none = baffle({});
  EXPECT_EQ(none.exit_code, 2) << show(none);
  const cli_result zero_threads = baffle({"run", quickstart_.string(), "--threads", "0"});
  EXPECT_EQ(zero_threads.exit_code, 2) << show(zero_threads);
  EXPECT_TRUE(contains(zero_threads.err, "--threads")) << show(zero_threads);
  EXPECT_TRUE(work_entries().empty());
}

TEST_F(Cli, UnknownTopLevelArgumentsAreNamedInTheError) {
  const cli_result top = baffle({"--bogus"});
  EXPECT_EQ(top.exit_code, 2) << show(top);
  EXPECT_TRUE(contains(top.err, "--bogus")) << show(top);
  const cli_result sub = baffle({"frobnicate"});
  EXPECT_EQ(sub.exit_code, 2) << show(sub);
  EXPECT_TRUE(contains(sub.err, "frobnicate")) << show(sub);
}

/// 100 quick rounds: 2 clients, K = 2, 500 training images.
std::vector<std::string> hundred_quick_rounds() {
  return {"--set", "data.train_subset=500",
          "--set", "data.test_subset=500",
          "--set", "train.rounds=100",
          "--set", "train.eval_every=50",
          "--set", "baffle.k=2",
          "--set", "clients.count=2",
          "--set", "clients.per_round=2"};
}

TEST_F(Cli, ProgressOffATerminalIsAFewLinesAndQuietPrintsNone) {
  const cli_result loud =
      baffle(concat({"run", quickstart_.string(), "--out", "loud"}, hundred_quick_rounds()));
  ASSERT_EQ(loud.exit_code, 0) << show(loud);
  const int lines = progress_lines(loud.err);
  EXPECT_GE(lines, 1) << show(loud);
  EXPECT_LE(lines, 25) << show(loud);
  EXPECT_LE(lines_of(loud.err).size(), 27u) << show(loud);
  EXPECT_TRUE(contains(loud.err, "round 100/100")) << show(loud);
  EXPECT_EQ(loud.err.find('\r'), std::string::npos) << "carriage returns off a terminal";
  EXPECT_EQ(loud.err.find('\033'), std::string::npos) << "escape codes off a terminal";

  const cli_result quiet =
      baffle(concat({"run", quickstart_.string(), "--out", "quiet", "-q"}, hundred_quick_rounds()));
  ASSERT_EQ(quiet.exit_code, 0) << show(quiet);
  EXPECT_EQ(progress_lines(quiet.err), 0) << show(quiet);
  EXPECT_TRUE(quiet.err.empty()) << show(quiet);
  // -q changes only what is printed, not what is computed.
  const nlohmann::json a = nlohmann::json::parse(read_text(work_ / "loud" / "summary.json"));
  const nlohmann::json b = nlohmann::json::parse(read_text(work_ / "quiet" / "summary.json"));
  EXPECT_EQ(a.value("model_digest", "?"), b.value("model_digest", "!"));
}

}  // namespace
