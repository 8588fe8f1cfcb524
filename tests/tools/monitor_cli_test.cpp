// End-to-end tests of --monitor on the baffle binary: addresses that cannot be served are exit 2
// with nothing written, the URL comes before the first round, results do not change, and with
// --monitor-linger the final state (counters equal to summary.json) and a sweep's index and point
// views stay served until a signal ends the process.
#include <signal.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "net/http_server.hpp"
#include "tests/net/http_client.hpp"
#include "tests/tools/binary_fixture.hpp"

namespace baffle::e2e {
namespace {

using nlohmann::json;

class MonitorCli : public baffle_binary_test {
 protected:
  MonitorCli() : baffle_binary_test("monitor") {}

  std::vector<std::string> tiny(const std::string& out) {
    return {"run",       quickstart_.string(),
            "--set",     "train.rounds=3",
            "--set",     "train.eval_every=1",
            "--threads", "1",
            "-q",        "--out",
            out};
  }

  /// Ends a spawned process with SIGTERM (which ends the linger) and returns its exit code.
  int terminate(size_t c) { return wait_for(c, SIGTERM); }

  /// The port of the "monitor: http://127.0.0.1:PORT/" line.
  static uint16_t monitor_port(const std::string& err) {
    const std::string prefix = "monitor: http://127.0.0.1:";
    const size_t at = err.find(prefix);
    if (at == std::string::npos) return 0;
    return static_cast<uint16_t>(std::stoi(err.substr(at + prefix.size())));
  }
};

TEST_F(MonitorCli, AddressesThatCannotBeServedAreExit2AndNothingIsWritten) {
  cli_result r = baffle(concat(tiny("r"), {"--monitor", "8080"}));
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "HOST:PORT")) << r.err;
  r = baffle(concat(tiny("r"), {"--monitor", "0.0.0.0:0"}));
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "--monitor-public")) << r.err;
  auto taken =
      http_server::start("127.0.0.1", 0, [](const http_request&) { return http_response{}; });
  ASSERT_TRUE(taken.ok());
  const std::string busy = "127.0.0.1:" + std::to_string((*taken)->port());
  r = baffle(concat(tiny("r"), {"--monitor", busy}));
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "cannot listen on " + busy)) << r.err;
  r = baffle({"sweep", quickstart_.string(), "--grid", "baffle.k=2,3", "--monitor", busy});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(work_entries().empty());
  r = baffle(concat(tiny("r"), {"--monitor-linger", "5"}));
  EXPECT_EQ(r.exit_code, 2) << show(r);  // needs --monitor
}

TEST_F(MonitorCli, TheUrlComesBeforeTheFirstRoundAndResultsDoNotChange) {
  cli_result plain = baffle(concat(tiny("plain"), {}));
  ASSERT_EQ(plain.exit_code, 0) << show(plain);
  std::vector<std::string> args = tiny("watched");
  args.pop_back();
  args.pop_back();
  args.erase(std::find(args.begin(), args.end(), "-q"));
  cli_result watched = baffle(concat(args, {"--out", "watched", "--monitor", "127.0.0.1:0"}));
  ASSERT_EQ(watched.exit_code, 0) << show(watched);
  const size_t url = watched.err.find("monitor: http://127.0.0.1:");
  ASSERT_NE(url, std::string::npos) << watched.err;
  EXPECT_LT(url, watched.err.find("round 1/3")) << watched.err;
  const json a = json::parse(read_text(work_ / "plain" / "summary.json"));
  const json b = json::parse(read_text(work_ / "watched" / "summary.json"));
  EXPECT_EQ(a["model_digest"], b["model_digest"]);
  EXPECT_EQ(a["bytes_up_total"], b["bytes_up_total"]);
}

TEST_F(MonitorCli, LingerServesTheFinalStateWithCountersEqualToTheSummary) {
  const size_t c =
      spawn(concat(tiny("r"), {"--monitor", "127.0.0.1:0", "--monitor-linger", "600"}));
  const std::string final_line = next_line(c);
  EXPECT_TRUE(contains(final_line, "final_test_acc")) << final_line;
  const uint16_t port = monitor_port(stderr_of(c));
  ASSERT_NE(port, 0) << stderr_of(c);
  const json status = json::parse(test::http_get(port, "/status").body);
  const std::string metrics = test::http_get(port, "/metrics").body;
  EXPECT_EQ(terminate(c), 0) << stderr_of(c);

  const json summary = json::parse(read_text(work_ / "r" / "summary.json"));
  EXPECT_EQ(status["state"], "finished");
  EXPECT_EQ(status["round"], summary["rounds"]);
  EXPECT_EQ(status["bytes_up_total"], summary["bytes_up_total"]);
  for (const auto& [metric, field] : std::vector<std::pair<std::string, std::string>>{
           {"baffle_rounds_total", "rounds"},
           {"baffle_bytes_up_total", "bytes_up_total"},
           {"baffle_bytes_down_total", "bytes_down_total"},
           {"baffle_node_bytes_total", "node_bytes_total"},
           {"baffle_forward_passes_total", "forward_passes_total"}}) {
    EXPECT_TRUE(contains(metrics, "\n" + metric + " " + summary[field].dump() + "\n"))
        << metric << " vs summary " << field << " = " << summary[field] << "\n"
        << metrics;
  }
}

TEST_F(MonitorCli, ASweepServesAnIndexAndAViewOfEachPoint) {
  const size_t c = spawn({"sweep", quickstart_.string(), "--grid", "baffle.k=2,3", "--set",
                          "train.rounds=3", "--threads-per-job", "1", "-q", "--out", "s",
                          "--monitor", "127.0.0.1:0", "--monitor-linger", "600"});
  const std::string final_line = next_line(c);
  EXPECT_TRUE(contains(final_line, "2 ok")) << final_line;
  const uint16_t port = monitor_port(stderr_of(c));
  ASSERT_NE(port, 0) << stderr_of(c);
  const test::http_answer index = test::http_get(port, "/");
  const json status = json::parse(test::http_get(port, "/status").body);
  const json point = json::parse(test::http_get(port, "/points/k-3/status").body);
  const json rounds = json::parse(test::http_get(port, "/points/k-3/rounds?since=1").body);
  const test::http_answer page = test::http_get(port, "/points/k-3/");
  const test::http_answer redirect = test::http_get(port, "/points/k-3");
  const std::string metrics = test::http_get(port, "/metrics").body;
  EXPECT_EQ(terminate(c), 0) << stderr_of(c);

  EXPECT_TRUE(contains(index.body, "href=\"points/k-2/\"")) << index.body;
  EXPECT_TRUE(contains(index.body, "2 of 2 point(s) done")) << index.body;
  ASSERT_EQ(status["points"].size(), 2u);
  const json summary = json::parse(read_text(work_ / "s" / "k-3" / "summary.json"));
  EXPECT_EQ(status["points"][1]["state"], "finished");
  EXPECT_EQ(status["points"][1]["test_acc"], summary["final_test_acc"]);
  EXPECT_EQ(point["round"], 3);
  EXPECT_EQ(point["bytes_up_total"], summary["bytes_up_total"]);
  ASSERT_EQ(rounds["rounds"].size(), 2u);
  EXPECT_EQ(rounds["rounds"][0]["round"], 2);
  EXPECT_TRUE(contains(page.body, "<canvas"));
  EXPECT_EQ(redirect.status, 301);
  EXPECT_TRUE(contains(metrics, "baffle_rounds_total{point=\"k-3\"} 3")) << metrics;
}

}  // namespace
}  // namespace baffle::e2e
