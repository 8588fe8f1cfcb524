// Tests for actors/monitor.hpp during real runs of a toy world on loopback: every endpoint's
// content as the run moves forward (held at chosen rounds by a gate sink, never by sleeping),
// /metrics through the reference Prometheus parser, and a run's results unchanged by the monitor
// and by clients that send garbage, stall or never read.
#include "actors/monitor.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "actors/runtime.hpp"
#include "tests/actors/monitor_fixture.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

using nlohmann::json;
using test::get_json;
using test::http_get;
using test::loopback_socket;
using test::parse_answer;

scenario four_rounds() {
  scenario sc = toy_scenario();
  sc.train.rounds = 4;
  return sc;
}

/// Parses Prometheus text with tests/tools/prometheus_parse.py; nullopt (and a skip message) when
/// python3-prometheus-client is not installed.
std::optional<json> parse_prometheus(const std::string& text, std::string& why) {
  const char* source = std::getenv("BAFFLE_SOURCE_DIR");
  if (source == nullptr) {
    why = "BAFFLE_SOURCE_DIR is not set; run through ctest";
    return std::nullopt;
  }
  const std::filesystem::path in =
      std::filesystem::path(testing::TempDir()) / ("metrics_" + std::to_string(getpid()) + ".txt");
  std::ofstream(in) << text;
  const std::string cmd = "/usr/bin/python3 " + std::string(source) +
                          "/tests/tools/prometheus_parse.py < " + in.string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n = 0;
  while (p != nullptr && (n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = p != nullptr ? pclose(p) : -1;
  std::filesystem::remove(in);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    why = "python3-prometheus-client is not installed (tools/setup installs it)";
    return std::nullopt;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out << "\n--- text ---\n" << text;
  return json::parse(out, nullptr, false);
}

TEST(Monitor, EndpointsFollowTheRunAndMetricsMatchItsOutcome) {
  const scenario sc = four_rounds();
  auto w = build_world(sc, toy_data(120, 30));
  ASSERT_TRUE(w.ok());
  auto mon = monitor::start("127.0.0.1", 0);
  ASSERT_TRUE(mon.ok()) << mon.error();
  const uint16_t port = (*mon)->port();
  (*mon)->begin_run(run_info_of(sc, 2));
  (*mon)->sync();
  json st = get_json(port, "/status");
  EXPECT_EQ(st["state"], "waiting");
  EXPECT_EQ(st["round"], 0);
  EXPECT_EQ(st["name"], "toy");
  EXPECT_EQ(st["policy"], "sync");
  EXPECT_EQ(st["algorithm"], "baffle");

  run_options opt{2};
  opt.nodes = 2;
  test::held_run run(**mon, *w, opt);
  run.gate.wait_reached(1);
  (*mon)->sync();
  st = get_json(port, "/status");
  EXPECT_EQ(st["state"], "running");
  EXPECT_EQ(st["round"], 1);
  EXPECT_EQ(st["total_rounds"], 4);
  const double t1 = st["sim_time_s"].get<double>();
  EXPECT_GT(t1, 0.0);
  EXPECT_TRUE(st["eta_s"].is_number());
  EXPECT_TRUE(st["test_acc"].is_number());
  EXPECT_EQ(st["last_round"]["selected"], 3);
  EXPECT_EQ(st["nodes"].size(), 2u);
  json r = get_json(port, "/rounds?since=0");
  ASSERT_EQ(r["rounds"].size(), 1u);
  EXPECT_EQ(r["rounds"][0]["round"], 1);

  run.gate.release(1);
  run.gate.wait_reached(2);
  (*mon)->sync();
  st = get_json(port, "/status");
  EXPECT_EQ(st["round"], 2);
  EXPECT_GT(st["sim_time_s"].get<double>(), t1);
  r = get_json(port, "/rounds?since=1");
  ASSERT_EQ(r["rounds"].size(), 1u);  // exactly the new row
  EXPECT_EQ(r["rounds"][0]["round"], 2);
  EXPECT_EQ(r["last_round"], 2);
  EXPECT_EQ(get_json(port, "/rounds?since=2")["rounds"].size(), 0u);
  json c = get_json(port, "/clients");
  EXPECT_FALSE(c["final"].get<bool>());
  EXPECT_EQ(c["clients"].size(), 4u);

  const run_outcome outcome = run.finish();
  ASSERT_TRUE(outcome.error.empty()) << outcome.error;
  (*mon)->end_run(run_state::finished);
  (*mon)->sync();

  st = get_json(port, "/status");
  EXPECT_EQ(st["state"], "finished");
  EXPECT_EQ(st["round"], 4);
  EXPECT_EQ(st["bytes_up_total"], outcome.bytes_up_total);
  r = get_json(port, "/rounds?since=0");
  ASSERT_EQ(r["rounds"].size(), run.rows.rows.size());
  for (size_t i = 0; i < run.rows.rows.size(); ++i) {
    // Each JSON row holds the CSV row's values under the header's names.
    const json& row = r["rounds"][i];
    EXPECT_EQ(row["round"], static_cast<int64_t>(i + 1));
    auto csv = parse_rounds_csv_row(run.rows.rows[i]);
    ASSERT_TRUE(csv);
    EXPECT_EQ(row["bytes_up"], csv->rec.bytes_up);
    EXPECT_EQ(row["participants"], csv->rec.participants);
    EXPECT_DOUBLE_EQ(row["sim_time_s"].get<double>(), csv->rec.end_time.seconds());
  }
  c = get_json(port, "/clients");
  EXPECT_TRUE(c["final"].get<bool>());
  int participated = 0;
  for (const json& x : c["clients"]) participated += x["participated"].get<int>();
  EXPECT_EQ(participated, 4 * 3);  // sync, no dropout: everyone selected takes part

  const test::http_answer m = http_get(port, "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.headers.find("text/plain; version=0.0.4"), std::string::npos);
  std::string why;
  const std::optional<json> samples = parse_prometheus(m.body, why);
  if (!samples) GTEST_SKIP() << why;
  ASSERT_TRUE(samples->is_object()) << m.body;
  const json& s = *samples;
  EXPECT_EQ(s["baffle_rounds_total"].get<double>(), outcome.rounds);
  EXPECT_EQ(s["baffle_bytes_up_total"].get<double>(), outcome.bytes_up_total);
  EXPECT_EQ(s["baffle_bytes_down_total"].get<double>(), outcome.bytes_down_total);
  EXPECT_EQ(s["baffle_node_bytes_total"].get<double>(), outcome.node_bytes_total);
  EXPECT_EQ(s["baffle_forward_passes_total"].get<double>(), outcome.forward_passes_total);
  EXPECT_DOUBLE_EQ(s["baffle_test_accuracy"].get<double>(), outcome.final_test_acc);
  EXPECT_DOUBLE_EQ(s["baffle_virtual_time_seconds"].get<double>(), outcome.sim_time_s);
  EXPECT_EQ(s["baffle_participants"].get<double>(), 3);
  EXPECT_TRUE(s.contains(
      "baffle_run_info{algorithm=\"baffle\",name=\"toy\",policy=\"sync\",state=\"finished\"}"))
      << s.dump();
}

TEST(Monitor, StatusShowsTheServersAccountOfItsNodesLostOnesWithTheirReason) {
  run_view v(run_info_of(four_rounds(), 2));
  node_record live;
  live.node = 0;
  live.tasks_done = 12;
  node_record lost;
  lost.node = 1;
  lost.host = "worker-7";
  lost.threads = 4;
  lost.left = 3;
  lost.reason = "its process is gone";
  lost.tasks_done = 5;
  v.set_nodes({live, lost});
  v.set_state(run_state::running);
  const json st = json::parse(v.status_json());
  ASSERT_EQ(st["nodes"].size(), 2u) << st.dump();
  EXPECT_EQ(st["nodes"][0]["state"], "running");
  EXPECT_EQ(st["nodes"][0]["tasks_done"], 12);
  EXPECT_FALSE(st["nodes"][0].contains("left"));
  EXPECT_EQ(st["nodes"][1]["host"], "worker-7");
  EXPECT_EQ(st["nodes"][1]["threads"], 4);
  EXPECT_EQ(st["nodes"][1]["state"], "lost");
  EXPECT_EQ(st["nodes"][1]["left"], 3);
  EXPECT_EQ(st["nodes"][1]["reason"], "its process is gone");
}

TEST(Monitor, PageAndErrorsAreServed) {
  auto mon = monitor::start("127.0.0.1", 0);
  ASSERT_TRUE(mon.ok()) << mon.error();
  (*mon)->begin_run(run_info_of(four_rounds(), 1));
  const uint16_t port = (*mon)->port();
  const test::http_answer page = http_get(port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.headers.find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("<canvas id=\"chart-acc\""), std::string::npos);
  // Self-contained: nothing is loaded from elsewhere.
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  EXPECT_EQ(page.body.find("src="), std::string::npos);
  EXPECT_EQ(http_get(port, "/rounds?since=abc").status, 400);
  EXPECT_EQ(http_get(port, "/rounds?since=-1").status, 400);
  EXPECT_EQ(http_get(port, "/nothing").status, 404);
}

TEST(Monitor, ResultsAreIdenticalWithAMonitorUnderHostileClients) {
  const scenario sc = four_rounds();
  auto w = build_world(sc, toy_data(120, 30));
  ASSERT_TRUE(w.ok());

  runtime plain({2, false});
  test::row_sink plain_rows;
  plain.attach(&plain_rows);
  const run_outcome without = plain.run(*w, run_options{2});
  ASSERT_TRUE(without.error.empty()) << without.error;

  auto mon = monitor::start("127.0.0.1", 0);
  ASSERT_TRUE(mon.ok()) << mon.error();
  const uint16_t port = (*mon)->port();
  (*mon)->begin_run(run_info_of(sc, 1));
  test::held_run run(**mon, *w, run_options{2});
  run.gate.wait_reached(1);

  // While the run is held: garbage, oversized requests, a request that never ends, and a client
  // that pipelines thousands of requests and never reads an answer.
  EXPECT_EQ(parse_answer(test::send_and_read(port, "\x01\x02 garbage\r\n\r\n")).status, 400);
  EXPECT_EQ(parse_answer(
                test::send_and_read(port, "GET /" + std::string(20000, 'x') + " HTTP/1.1\r\n\r\n"))
                .status,
            431);
  EXPECT_EQ(parse_answer(
                test::send_and_read(port, "GET /status HTTP/1.1\r\nContent-Length: 99999\r\n\r\n"))
                .status,
            413);
  loopback_socket stalled(port);
  ASSERT_TRUE(stalled.send_all("GET /status HTTP/1.1\r\nHost: 127.0"));
  loopback_socket flood(port);
  std::string many;
  for (int i = 0; i < 3000; ++i) many += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(flood.send_all(many));

  const run_outcome with = run.finish();
  ASSERT_TRUE(with.error.empty()) << with.error;
  EXPECT_EQ(with.model_digest, without.model_digest);
  EXPECT_EQ(run.rows.rows, plain_rows.rows);
  // The monitor still answers others while those two connections hang on.
  (*mon)->end_run(run_state::finished);
  (*mon)->sync();
  EXPECT_EQ(get_json(port, "/status")["round"], 4);
}

TEST(Monitor, AddressesAreCheckedAndRemoteOnesNeedPermission) {
  auto a = parse_monitor_address("127.0.0.1:0", false);
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  auto v6 = parse_monitor_address("[::1]:8080", false);
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_TRUE(parse_monitor_address("localhost:9000", false).ok());
  for (const char* bad : {"8080", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:70000",
                          "127.0.0.1:8x", "[::1]8080", "::1:8080"}) {
    auto r = parse_monitor_address(bad, false);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().find("HOST:PORT"), std::string::npos) << r.error();
    }
  }
  auto remote = parse_monitor_address("0.0.0.0:8080", false);
  ASSERT_FALSE(remote.ok());
  EXPECT_NE(remote.error().find("--monitor-public"), std::string::npos) << remote.error();
  EXPECT_TRUE(parse_monitor_address("0.0.0.0:8080", true).ok());
  EXPECT_FALSE(parse_monitor_address("example.org:80", true).ok());
}

}  // namespace
}  // namespace baffle
