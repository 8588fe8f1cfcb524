// Checkpoint and resume end to end through build/tools/baffle: a run killed with SIGKILL in the
// middle of writing a row, or stopped with SIGINT/SIGTERM, continues with `baffle run --resume`
// to the model digest, rounds.csv and events.log of an uninterrupted run; resuming what cannot be
// resumed exits 2 with a reason and changes nothing. Faults are injected deterministically with
// the BAFFLE_FAULT test hook (after a given round's row: SIGKILL, or raise SIGINT/SIGTERM).
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "scenarios/enums.hpp"
#include "tests/tools/binary_fixture.hpp"

namespace {

using namespace baffle::e2e;

/// rounds.csv without the wall_time_s column, as text.
std::string without_wall_time(const std::string& csv) {
  std::string out;
  for (const std::string& line : lines_of(csv)) {
    std::vector<std::string> cells = split(line, ',');
    if (cells.size() > 2) cells.erase(cells.begin() + 2);
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + cells[i];
    out += "\n";
  }
  return out;
}

std::string digest_of(const fs::path& dir) {
  return nlohmann::json::parse(read_text(dir / "summary.json")).value("model_digest", "");
}

/// Sets BAFFLE_FAULT for the runs made while it lives.
struct fault_env {
  explicit fault_env(const std::string& spec) { setenv("BAFFLE_FAULT", spec.c_str(), 1); }
  ~fault_env() { unsetenv("BAFFLE_FAULT"); }
};

class Resume : public baffle_binary_test {
 protected:
  Resume() : baffle_binary_test("resume") {}

  /// A small run with a checkpoint every 3 rounds, under `policy` ("sync" or "async").
  std::vector<std::string> run_args(const std::string& out, const std::string& policy) {
    std::vector<std::string> a = {"run",   quickstart_.string(), "--out", out, "--threads", "2",
                                  "--quiet", "--events"};
    for (const std::string& s :
         {std::string("data.train_subset=2000"), std::string("data.test_subset=300"),
          std::string("train.rounds=10"), std::string("train.eval_every=4"),
          std::string("baffle.k=8"), std::string("clients.count=6"),
          std::string("clients.per_round=3"), std::string("clients.dropout=0.2"),
          std::string("run.checkpoint_every=3"), "server.policy=\"" + policy + "\""}) {
      a.push_back("--set");
      a.push_back(s);
    }
    if (baffle::parse_name<baffle::policy_kind>(policy) == baffle::policy_kind::async) {
      a.insert(a.end(), {"--set", "server.buffer=2", "--set", "baffle.download=\"replay\"",
                         "--set", "clients.compute.spread={dist=\"uniform\",min=0.5,max=2.0}"});
    }
    return a;
  }

  void expect_same_run(const fs::path& a, const fs::path& b) {
    EXPECT_EQ(digest_of(a), digest_of(b));
    EXPECT_EQ(without_wall_time(read_text(a / "rounds.csv")),
              without_wall_time(read_text(b / "rounds.csv")));
    EXPECT_EQ(read_text(a / "events.log"), read_text(b / "events.log"));
    EXPECT_EQ(read_text(a / "clients.csv"), read_text(b / "clients.csv"));
  }
};

TEST_F(Resume, AKilledRunResumesToTheUninterruptedResult) {
  for (const char* policy : {"sync", "async"}) {
    const std::string whole = std::string("whole-") + policy;
    const std::string killed = std::string("killed-") + policy;
    const cli_result w = baffle(run_args(whole, policy));
    ASSERT_EQ(w.exit_code, 0) << show(w);
    {
      // Killed while writing round 8's row, two rounds after the checkpoint of round 6.
      fault_env fault("kill@7");
      const cli_result k = baffle(run_args(killed, policy));
      ASSERT_EQ(k.exit_code, -1) << "expected death by SIGKILL\n" << show(k);
    }
    EXPECT_FALSE(fs::exists(work_ / killed / "summary.json"));
    const std::string torn = read_text(work_ / killed / "rounds.csv");
    ASSERT_FALSE(torn.empty());
    EXPECT_NE(torn.back(), '\n') << "the fault hook leaves half a row";
    const cli_result r = baffle({"run", "--resume", killed, "--threads", "1", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << policy << "\n" << show(r);
    expect_same_run(work_ / whole, work_ / killed);
  }
}

TEST_F(Resume, SigintAndSigtermStopCleanlyAfterACheckpointAndTheRunContinues) {
  const cli_result w = baffle(run_args("whole", "async"));
  ASSERT_EQ(w.exit_code, 0) << show(w);
  for (const auto& [spec, code] : {std::pair<std::string, int>{"int@4", 130}, {"term@2", 143}}) {
    const std::string dir = "stopped-" + spec.substr(0, spec.find('@'));
    {
      fault_env fault(spec);
      const cli_result s = baffle(run_args(dir, "async"));
      EXPECT_EQ(s.exit_code, code) << show(s);
      EXPECT_TRUE(contains(s.err, "baffle run --resume " + dir)) << show(s);
    }
    EXPECT_TRUE(fs::exists(work_ / dir / "checkpoint.bin"));
    EXPECT_FALSE(fs::exists(work_ / dir / "summary.json"));
    // The stop came after the round the signal was raised in: its rows are all there.
    const int stopped_at = std::stoi(spec.substr(spec.find('@') + 1));
    EXPECT_EQ(lines_of(read_text(work_ / dir / "rounds.csv")).size(),
              static_cast<size_t>(stopped_at) + 1);
    const cli_result r = baffle({"run", "--resume", dir, "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << show(r);
    expect_same_run(work_ / "whole", work_ / dir);
  }
}

TEST_F(Resume, WhatCannotBeResumedExitsTwoWithAReasonAndChangesNothing) {
  const cli_result w = baffle(run_args("done", "sync"));
  ASSERT_EQ(w.exit_code, 0) << show(w);
  const std::string csv = read_text(work_ / "done" / "rounds.csv");

  cli_result r = baffle({"run", "--resume", "done"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "already finished")) << r.err;

  r = baffle({"run", "--resume", "nowhere"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "nowhere")) << r.err;

  // An interrupted run whose checkpoint is damaged, or whose scenario was edited.
  {
    fault_env fault("kill@5");
    baffle(run_args("broken", "sync"));
  }
  const fs::path dir = work_ / "broken";
  const std::string before = read_text(dir / "rounds.csv");
  std::string bytes = read_text(dir / "checkpoint.bin");
  ASSERT_GT(bytes.size(), 40u);
  bytes[bytes.size() / 2] ^= 0x20;
  std::ofstream(dir / "checkpoint.bin", std::ios::binary | std::ios::trunc) << bytes;
  r = baffle({"run", "--resume", "broken"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "CRC")) << r.err;
  EXPECT_EQ(read_text(dir / "rounds.csv"), before) << "a refused resume leaves the files alone";

  bytes[bytes.size() / 2] ^= 0x20;  // repaired
  std::ofstream(dir / "checkpoint.bin", std::ios::binary | std::ios::trunc) << bytes;
  const std::string scenario = read_text(dir / "scenario.toml");
  std::string edited = scenario;
  const size_t seed_at = edited.find("\nseed = 1\n");
  ASSERT_NE(seed_at, std::string::npos) << scenario;
  edited.replace(seed_at, 10, "\nseed = 2\n");
  std::ofstream(dir / "scenario.toml", std::ios::trunc) << edited;
  r = baffle({"run", "--resume", "broken"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "different scenario")) << r.err;
  std::ofstream(dir / "scenario.toml", std::ios::trunc) << scenario;
  r = baffle({"run", "--resume", "broken", "--quiet"});
  EXPECT_EQ(r.exit_code, 0) << show(r);

  // --resume takes no scenario or overrides: the run folder's scenario.toml is the run.
  r = baffle({"run", "--resume", "done", quickstart_.string()});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  r = baffle({"run", "--resume", "done", "--set", "train.rounds=3"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
}

}  // namespace
