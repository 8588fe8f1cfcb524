// End-to-end tests of baffle serve and baffle worker on loopback (free ports chosen at run time,
// every process waited for or killed by its id): two workers give exactly the single-process
// run's outputs under sync and async; a worker lost mid-run (SIGKILL) leaves its clients and
// tasks to the others with the same result, and nodes.csv records it; with no node left the
// server checkpoints and the run resumes with a new worker; a worker joining mid-run takes
// clients; a worker with the wrong secret, or sending malformed messages, is refused or dropped
// while the run completes; a worker whose server dies exits with a message.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/net/http_client.hpp"

#include "tests/tools/binary_fixture.hpp"

namespace baffle::e2e {
namespace {

using nlohmann::json;

class Distributed : public baffle_binary_test {
 protected:
  Distributed() : baffle_binary_test("distributed") {}

  /// A few rounds of the quickstart under `policy`, every output file written.
  std::vector<std::string> scenario(const std::string& policy) {
    std::vector<std::string> args = {
        quickstart_.string(), "--set", "train.rounds=4",         "--set",
        "train.eval_every=2", "--set", "server.policy=" + policy};
    if (policy == "async")
      args = concat(args, {"--set", "server.concurrency=4", "--set", "server.buffer=2"});
    return concat(args, {"--threads", "1", "-q", "--events"});
  }

  /// The port of serve's first stdout line, "listening on 127.0.0.1:PORT".
  std::string port_of(size_t serve) { return port_of_line(next_line(serve)); }

  std::string port_of_line(const std::string& line) {
    const std::string prefix = "listening on 127.0.0.1:";
    EXPECT_EQ(line.rfind(prefix, 0), 0u) << line;
    if (line.rfind(prefix, 0) != 0) return "1";
    std::string port;
    for (size_t i = prefix.size(); i < line.size() && std::isdigit(line[i]) != 0; ++i)
      port += line[i];
    return port;
  }

  /// rounds.csv without its wall-time column (and `also`, if given).
  std::string rounds_without_wall_time(const fs::path& dir, const std::string& also = "") {
    const auto rows = lines_of(read_text(dir / "rounds.csv"));
    const auto header = split(rows.at(0), ',');
    std::vector<size_t> drop;
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == "wall_time_s" || (!also.empty() && header[i] == also)) drop.push_back(i);
    std::string out;
    for (const std::string& row : rows) {
      const auto cells = split(row, ',');
      for (size_t i = 0; i < cells.size(); ++i)
        if (std::find(drop.begin(), drop.end(), i) == drop.end()) out += cells[i] + ",";
      out += "\n";
    }
    return out;
  }

  void expect_same_run(const fs::path& a, const fs::path& b) {
    const json sa = json::parse(read_text(a / "summary.json"));
    const json sb = json::parse(read_text(b / "summary.json"));
    for (const char* key : {"model_digest", "final_test_acc", "rounds", "sim_time_s",
                            "bytes_up_total", "bytes_down_total", "node_bytes_total"})
      EXPECT_EQ(sa[key], sb[key]) << key;
    EXPECT_EQ(rounds_without_wall_time(a), rounds_without_wall_time(b));
    EXPECT_EQ(read_text(a / "events.log"), read_text(b / "events.log"));
    EXPECT_EQ(read_text(a / "clients.csv"), read_text(b / "clients.csv"));
    EXPECT_FALSE(read_text(a / "events.log").empty());
  }

  /// The outputs that do not depend on how many nodes computed or were lost (node_bytes does:
  /// updates go to every node, and a lost node's tasks are sent again).
  void expect_same_results(const fs::path& a, const fs::path& b) {
    const json sa = json::parse(read_text(a / "summary.json"));
    const json sb = json::parse(read_text(b / "summary.json"));
    for (const char* key : {"model_digest", "final_test_acc", "rounds", "sim_time_s",
                            "bytes_up_total", "bytes_down_total"})
      EXPECT_EQ(sa[key], sb[key]) << key;
    EXPECT_EQ(rounds_without_wall_time(a, "node_bytes"), rounds_without_wall_time(b, "node_bytes"));
    EXPECT_EQ(read_text(a / "events.log"), read_text(b / "events.log"));
    EXPECT_EQ(read_text(a / "clients.csv"), read_text(b / "clients.csv"));
    EXPECT_FALSE(read_text(a / "events.log").empty());
  }

  /// A CSV file's rows (fields without quotes).
  std::vector<std::vector<std::string>> csv_rows(const fs::path& path) {
    std::vector<std::vector<std::string>> rows;
    for (const std::string& line : lines_of(read_text(path))) {
      std::vector<std::string> cells{""};
      bool quoted = false;
      for (char c : line) {
        if (c == '"') {
          quoted = !quoted;
        } else if (c == ',' && !quoted) {
          cells.emplace_back();
        } else {
          cells.back() += c;
        }
      }
      rows.push_back(std::move(cells));
    }
    return rows;
  }

  void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  struct served_run {
    size_t serve, w1, w2;
  };

  /// The single process with two in-process nodes (the same node traffic as two workers) into
  /// work_/single; then serve with two workers, the second with `w2_env`, into work_/served.
  served_run single_and_two_workers(const std::string& policy,
                                    std::vector<std::string> w2_env = {}) {
    const cli_result single =
        baffle(concat({"run"}, concat(scenario(policy), {"--nodes", "2", "--out", "single"})));
    EXPECT_EQ(single.exit_code, 0) << show(single);
    const size_t serve =
        spawn(concat({"serve"}, concat(scenario(policy),
                                       {"--workers", "2", "--local", "0", "--out", "served"})));
    const std::string endpoint = "127.0.0.1:" + port_of(serve);
    const size_t w1 = spawn({"worker", "--connect", endpoint, "--threads", "1"});
    const size_t w2 = spawn({"worker", "--connect", endpoint, "--threads", "1"}, std::move(w2_env));
    return {serve, w1, w2};
  }
};

TEST_F(Distributed, TwoWorkersGiveTheSingleProcessRunUnderSyncAndAsync) {
  for (const std::string policy : {"sync", "async"}) {
    const auto [serve, w1, w2] = single_and_two_workers(policy);
    EXPECT_EQ(wait_for(serve), 0) << stderr_of(serve);
    EXPECT_EQ(wait_for(w1), 0) << stderr_of(w1);
    EXPECT_EQ(wait_for(w2), 0) << stderr_of(w2);
    EXPECT_TRUE(contains(next_line(w1), "computing for"));
    EXPECT_TRUE(contains(stderr_of(w1), "the run is over")) << stderr_of(w1);
    expect_same_run(work_ / "single", work_ / "served");
    fs::remove_all(work_ / "single");
    fs::remove_all(work_ / "served");
  }
}

TEST_F(Distributed, AWorkerWithTheWrongSecretIsRefusedAndTheRunCompletes) {
  const std::string secret = "correct horse battery staple";
  write_file(root_ / "secret", secret + "\n");
  write_file(root_ / "wrong", "not the secret\n");
  const cli_result single = baffle(concat({"run"}, concat(scenario("sync"), {"--out", "single"})));
  ASSERT_EQ(single.exit_code, 0) << show(single);
  const size_t serve = spawn(concat(
      {"serve"}, concat(scenario("sync"), {"--workers", "1", "--local", "0", "--secret-file",
                                           (root_ / "secret").string(), "--out", "served"})));
  const std::string endpoint = "127.0.0.1:" + port_of(serve);
  const size_t bad =
      spawn({"worker", "--connect", endpoint, "--secret-file", (root_ / "wrong").string()});
  EXPECT_EQ(wait_for(bad), 2) << stderr_of(bad);
  EXPECT_TRUE(contains(stderr_of(bad), "refused: wrong secret")) << stderr_of(bad);
  const size_t none = spawn({"worker", "--connect", endpoint});  // no secret at all
  EXPECT_EQ(wait_for(none), 2) << stderr_of(none);
  const size_t good =
      spawn({"worker", "--connect", endpoint, "--secret-file", (root_ / "secret").string()});
  EXPECT_EQ(wait_for(serve), 0) << stderr_of(serve);
  EXPECT_EQ(wait_for(good), 0) << stderr_of(good);
  const std::string log = stderr_of(serve);
  EXPECT_TRUE(contains(log, "refused a worker: wrong secret")) << log;
  EXPECT_FALSE(contains(log, secret));
  const json a = json::parse(read_text(work_ / "single" / "summary.json"));
  const json b = json::parse(read_text(work_ / "served" / "summary.json"));
  EXPECT_EQ(a["model_digest"], b["model_digest"]);
}

TEST_F(Distributed, AWorkerWhoseServerDiesExitsWithAMessage) {
  // The server waits for two workers; one joins, then the server is killed.
  const size_t serve = spawn(concat(
      {"serve"}, concat(scenario("sync"), {"--workers", "2", "--local", "0", "--out", "served"})));
  const std::string endpoint = "127.0.0.1:" + port_of(serve);
  const size_t worker = spawn({"worker", "--connect", endpoint});
  // The worker's first stdout line says it has joined (its node is registered).
  const std::string joined = next_line(worker);
  ASSERT_TRUE(contains(joined, "computing for")) << joined << stderr_of(worker);
  kill_now(serve);
  EXPECT_EQ(wait_for(worker), 1) << stderr_of(worker);
  EXPECT_TRUE(contains(stderr_of(worker), "lost baffle serve at " + endpoint)) << stderr_of(worker);
}

TEST_F(Distributed, BadEndpointsAndSecretsAreExit2) {
  cli_result r = baffle(concat({"serve"}, concat(scenario("sync"), {"--listen", "0.0.0.0:0"})));
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "needs --secret-file")) << r.err;
  EXPECT_TRUE(work_entries().empty());
  r = baffle({"worker", "--connect", "127.0.0.1"});
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "--connect takes HOST:PORT")) << r.err;
  write_file(root_ / "empty", "\n");
  r = baffle(
      concat({"serve"}, concat(scenario("sync"), {"--secret-file", (root_ / "empty").string()})));
  EXPECT_EQ(r.exit_code, 2) << show(r);
  EXPECT_TRUE(contains(r.err, "the file is empty")) << r.err;
}

TEST_F(Distributed, ALostWorkersClientsAndTasksMoveAndTheResultIsUnchanged) {
  for (const std::string policy : {"sync", "async"}) {
    // The second worker's process kills itself (SIGKILL) once its node has finished 2 tasks.
    const auto [serve, w1, w2] = single_and_two_workers(policy, {"BAFFLE_NODE_FAULT=kill@2"});
    EXPECT_EQ(wait_for(serve), 0) << stderr_of(serve);
    EXPECT_EQ(wait_for(w1), 0) << stderr_of(w1);
    EXPECT_EQ(wait_for(w2), -1) << stderr_of(w2);  // ended by its signal
    expect_same_results(work_ / "single", work_ / "served");
    const auto nodes = csv_rows(work_ / "served" / "nodes.csv");
    ASSERT_EQ(nodes.size(), 3u) << read_text(work_ / "served" / "nodes.csv");
    EXPECT_EQ(nodes[0], (std::vector<std::string>{"node", "host", "threads", "joined", "left",
                                                  "reason", "tasks_done"}));
    int lost = 0;
    for (size_t i = 1; i < nodes.size(); ++i) {
      if (nodes[i][4].empty()) {
        EXPECT_GT(std::stoi(nodes[i][6]), 2) << policy;  // it took over the lost node's share
      } else {
        ++lost;
        EXPECT_GE(std::stoi(nodes[i][4]), 1) << policy;  // lost during a round
        EXPECT_TRUE(contains(nodes[i][5], "gone") || contains(nodes[i][5], "failed"))
            << nodes[i][5];
      }
    }
    EXPECT_EQ(lost, 1) << read_text(work_ / "served" / "nodes.csv");
    EXPECT_TRUE(contains(stderr_of(serve), "lost in round")) << stderr_of(serve);
    fs::remove_all(work_ / "single");
    fs::remove_all(work_ / "served");
  }
}

TEST_F(Distributed, WithNoNodeLeftTheServerCheckpointsAndTheRunResumesWithANewWorker) {
  for (const std::string policy : {"sync", "async"}) {
    const cli_result single =
        baffle(concat({"run"}, concat(scenario(policy), {"--out", "single"})));
    ASSERT_EQ(single.exit_code, 0) << show(single);
    const size_t serve = spawn(concat(
        {"serve"}, concat(scenario(policy), {"--workers", "1", "--local", "0", "--out", "s"})));
    const std::string endpoint = "127.0.0.1:" + port_of(serve);
    // The only worker dies in the middle of round (async: update) 1 or 2.
    const size_t w1 =
        spawn({"worker", "--connect", endpoint, "--threads", "1"},
              {policy == "sync" ? "BAFFLE_NODE_FAULT=kill@13" : "BAFFLE_NODE_FAULT=kill@3"});
    EXPECT_EQ(wait_for(serve), 1) << stderr_of(serve);
    EXPECT_EQ(wait_for(w1), -1) << stderr_of(w1);
    const std::string log = stderr_of(serve);
    EXPECT_TRUE(contains(log, "no node is left")) << log;
    EXPECT_TRUE(contains(log, "a checkpoint after round")) << log;
    EXPECT_TRUE(contains(log, "--resume")) << log;
    ASSERT_TRUE(fs::exists(work_ / "s" / "checkpoint.bin")) << log;
    EXPECT_FALSE(fs::exists(work_ / "s" / "summary.json"));
    const size_t again =
        spawn({"serve", "--resume", "s", "--workers", "1", "--threads", "1", "-q"});
    const size_t w2 = spawn({"worker", "--connect", "127.0.0.1:" + port_of(again)});
    EXPECT_EQ(wait_for(again), 0) << stderr_of(again);
    EXPECT_EQ(wait_for(w2), 0) << stderr_of(w2);
    expect_same_results(work_ / "single", work_ / "s");
    fs::remove_all(work_ / "single");
    fs::remove_all(work_ / "s");
  }
}

TEST_F(Distributed, AWorkerThatJoinsMidRunTakesClientsAndTheResultIsUnchanged) {
  const cli_result single =
      baffle(concat({"run"}, concat(scenario("sync"), {"--nodes", "2", "--out", "single"})));
  ASSERT_EQ(single.exit_code, 0) << show(single);
  const size_t serve =
      spawn(concat({"serve"}, concat(scenario("sync"), {"--workers", "1", "--out", "served"})));
  const std::string endpoint = "127.0.0.1:" + port_of(serve);
  // The first worker stops (SIGSTOP) after 2 tasks of round 1, so the round waits for it while a
  // second worker joins; then it goes on.
  const size_t w1 =
      spawn({"worker", "--connect", endpoint, "--threads", "1"}, {"BAFFLE_NODE_FAULT=stop@2"});
  ASSERT_TRUE(wait_until_stopped(w1)) << stderr_of(w1);
  const size_t w2 = spawn({"worker", "--connect", endpoint, "--threads", "1"});
  ASSERT_TRUE(contains(next_line(w2), "computing for")) << stderr_of(w2);
  continue_stopped(w1);
  EXPECT_EQ(wait_for(serve), 0) << stderr_of(serve);
  wait_for(w1);  // 0, or 1 if the server gave up on it while it was stopped
  EXPECT_EQ(wait_for(w2), 0) << stderr_of(w2);
  expect_same_results(work_ / "single", work_ / "served");
  const auto nodes = csv_rows(work_ / "served" / "nodes.csv");
  ASSERT_EQ(nodes.size(), 4u) << read_text(work_ / "served" / "nodes.csv");
  EXPECT_EQ(nodes[3][0], "2");
  EXPECT_EQ(nodes[3][3], "1");  // joined in round 1, so it computes from round 2 on
  EXPECT_GT(std::stoi(nodes[3][6]), 0);
  EXPECT_TRUE(contains(stderr_of(serve), "after the start")) << stderr_of(serve);
}

TEST_F(Distributed, AWorkerSendingMalformedMessagesIsLoggedAndDroppedAndTheRunCompletes) {
  const cli_result single = baffle(concat({"run"}, concat(scenario("sync"), {"--out", "single"})));
  ASSERT_EQ(single.exit_code, 0) << show(single);
  const fs::path rogue = fs::path(std::getenv("BAFFLE_BINARY_DIR")) / "tests" / "rogue_worker";
  ASSERT_TRUE(fs::exists(rogue)) << rogue;
  for (const std::string mode : {"scalars", "client", "round"}) {
    // The worker count from the scenario (run.workers), and --no-local.
    const size_t serve =
        spawn(concat({"serve"}, concat(scenario("sync"),
                                       {"--set", "run.workers=2", "--no-local", "--out", mode})));
    const std::string port = port_of(serve);
    const size_t bad = spawn_program(rogue, {"127.0.0.1", port, mode});
    ASSERT_TRUE(contains(next_line(bad), "rogue: joined")) << stderr_of(bad);
    const size_t good = spawn({"worker", "--connect", "127.0.0.1:" + port, "--threads", "1"});
    EXPECT_EQ(wait_for(serve), 0) << stderr_of(serve);
    EXPECT_EQ(wait_for(good), 0) << stderr_of(good);
    EXPECT_EQ(wait_for(bad), 0) << stderr_of(bad);
    const std::string log = stderr_of(serve);
    for (const char* line :
         {"refused a worker: unknown or used nonce", "refused a worker: a host name",
          "refused a worker: node id 99 is not one of this run's",
          "ignored a node_joined message that did not come from the registry",
          "it sent a malformed result", "(2 of 2 workers)"})
      EXPECT_TRUE(contains(log, line)) << mode << ": " << line << "\n" << log;
    // Each spoiled field is the one named.
    const std::string named = mode == "scalars"  ? "scalars for K"
                              : mode == "client" ? "answered for client"
                                                 : "answered round";
    EXPECT_TRUE(contains(log, named)) << mode << "\n" << log;
    const json a = json::parse(read_text(work_ / "single" / "summary.json"));
    const json b = json::parse(read_text(work_ / mode / "summary.json"));
    EXPECT_EQ(a["model_digest"], b["model_digest"]) << mode;
  }
}

TEST_F(Distributed, OverTlsAWorkerCertifiedByAnotherCaIsRefusedAndTheRunCompletes) {
  // A CA with a certificate for the server and one for a worker, and another CA that certifies
  // an impostor; made with the openssl command.
  const fs::path dir = root_ / "tls";
  fs::create_directories(dir);
  const auto sh = [&](const std::string& command) {
    return std::system(("cd '" + dir.string() + "' && " + command + " >/dev/null 2>&1").c_str());
  };
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  for (const std::string ca : {"ca", "other-ca"})
    ASSERT_EQ(sh("openssl req -x509 " + key + " -keyout " + ca + ".key -out " + ca +
                 ".pem -days 2 -subj /CN=" + ca),
              0);
  for (const auto& [name, ca] :
       {std::pair{"server", "ca"}, std::pair{"worker", "ca"}, std::pair{"impostor", "other-ca"}}) {
    ASSERT_EQ(sh(std::string("openssl req ") + key + " -keyout " + name + ".key -out " + name +
                 ".csr -subj /CN=" + name),
              0);
    ASSERT_EQ(sh(std::string("openssl x509 -req -in ") + name + ".csr -CA " + ca + ".pem -CAkey " +
                 ca + ".key -CAcreateserial -out " + name + ".pem -days 2"),
              0);
  }
  const auto tls = [&](const std::string& name) {
    return std::vector<std::string>{"--tls-cert", (dir / (name + ".pem")).string(),
                                    "--tls-key",  (dir / (name + ".key")).string(),
                                    "--tls-ca",   (dir / "ca.pem").string()};
  };
  const cli_result single = baffle(concat({"run"}, concat(scenario("sync"), {"--out", "single"})));
  ASSERT_EQ(single.exit_code, 0) << show(single);
  const size_t serve = spawn(concat(
      {"serve"}, concat(scenario("sync"),
                        concat(tls("server"), {"--workers", "1", "--local", "0", "--out", "s"}))));
  const std::string line = next_line(serve);
  EXPECT_TRUE(contains(line, "(TLS)")) << line;
  const std::string endpoint = "127.0.0.1:" + port_of_line(line);
  const size_t impostor = spawn(concat({"worker", "--connect", endpoint}, tls("impostor")));
  EXPECT_EQ(wait_for(impostor), 1) << stderr_of(impostor);
  EXPECT_TRUE(contains(stderr_of(impostor), "cannot reach baffle serve")) << stderr_of(impostor);
  // A worker without TLS cannot speak to it either.
  const size_t plain = spawn({"worker", "--connect", endpoint, "--peer-timeout", "2"});
  EXPECT_NE(wait_for(plain), 0) << stderr_of(plain);
  const size_t good = spawn(concat({"worker", "--connect", endpoint}, tls("worker")));
  EXPECT_EQ(wait_for(serve), 0) << stderr_of(serve);
  EXPECT_EQ(wait_for(good), 0) << stderr_of(good);
  const json a = json::parse(read_text(work_ / "single" / "summary.json"));
  const json b = json::parse(read_text(work_ / "s" / "summary.json"));
  EXPECT_EQ(a["model_digest"], b["model_digest"]);
  // Half a TLS configuration is refused before anything runs.
  const cli_result half = baffle(
      concat({"serve"}, concat(scenario("sync"), {"--tls-cert", (dir / "server.pem").string()})));
  EXPECT_EQ(half.exit_code, 2) << show(half);
  EXPECT_TRUE(contains(half.err, "--tls-key is missing")) << half.err;
}

TEST_F(Distributed, AStoppedServedRunResumesWithOtherNodesToTheSingleProcessResult) {
  // Many quick rounds, stopped by SIGTERM once both workers have joined (a checkpoint is written),
  // then resumed with one worker and a local node: the result is the uninterrupted one's. (On a
  // machine fast enough to finish before the signal, the run simply completes: same check.)
  const std::vector<std::string> quick = {"--set", "train.rounds=800",    "--set", "baffle.k=4",
                                          "--set", "train.eval_every=400"};
  const cli_result single =
      baffle(concat({"run"}, concat(scenario("sync"), concat(quick, {"--out", "single"}))));
  ASSERT_EQ(single.exit_code, 0) << show(single);
  const size_t serve = spawn(concat(
      {"serve"},
      concat(scenario("sync"), concat(quick, {"--workers", "2", "--local", "0", "--out", "s"}))));
  const std::string endpoint = "127.0.0.1:" + port_of(serve);
  const size_t w1 = spawn({"worker", "--connect", endpoint, "--threads", "1"});
  const size_t w2 = spawn({"worker", "--connect", endpoint, "--threads", "1"});
  ASSERT_TRUE(contains(next_line(w1), "computing for")) << stderr_of(w1);
  ASSERT_TRUE(contains(next_line(w2), "computing for")) << stderr_of(w2);
  const int stopped = wait_for(serve, SIGTERM);
  EXPECT_EQ(wait_for(w1), 0) << stderr_of(w1);
  EXPECT_EQ(wait_for(w2), 0) << stderr_of(w2);
  if (stopped != 0) {
    ASSERT_EQ(stopped, 128 + SIGTERM) << stderr_of(serve);
    ASSERT_TRUE(fs::exists(work_ / "s" / "checkpoint.bin"));
    const size_t again =
        spawn({"serve", "--resume", "s", "--workers", "1", "--threads", "1", "-q"});
    const size_t w3 =
        spawn({"worker", "--connect", "127.0.0.1:" + port_of(again), "--threads", "1"});
    EXPECT_EQ(wait_for(again), 0) << stderr_of(again);
    EXPECT_EQ(wait_for(w3), 0) << stderr_of(w3);
  }
  const json a = json::parse(read_text(work_ / "single" / "summary.json"));
  const json b = json::parse(read_text(work_ / "s" / "summary.json"));
  EXPECT_EQ(a["model_digest"], b["model_digest"]);
  EXPECT_EQ(a["rounds"], b["rounds"]);
}

TEST_F(Distributed, TheMonitorOfAServedRunNamesWhereEachNodeRuns) {
  const size_t serve = spawn(
      concat({"serve"}, concat(scenario("sync"), {"--workers", "1", "--out", "served", "--monitor",
                                                  "127.0.0.1:0", "--monitor-linger", "600"})));
  const std::string endpoint = "127.0.0.1:" + port_of(serve);
  const size_t worker = spawn({"worker", "--connect", endpoint, "--threads", "1"});
  const std::string final_line = next_line(serve);  // printed once the monitor has the end
  EXPECT_TRUE(contains(final_line, "final_test_acc")) << final_line << stderr_of(serve);
  const std::string err = stderr_of(serve);
  const std::string prefix = "monitor: http://127.0.0.1:";
  const size_t at = err.find(prefix);
  ASSERT_NE(at, std::string::npos) << err;
  const auto port = static_cast<uint16_t>(std::stoi(err.substr(at + prefix.size())));
  const json status = json::parse(test::http_get(port, "/status").body);
  EXPECT_EQ(wait_for(serve, SIGTERM), 0) << stderr_of(serve);
  EXPECT_EQ(wait_for(worker), 0) << stderr_of(worker);
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  ASSERT_EQ(status["nodes"].size(), 2u) << status.dump();
  EXPECT_EQ(status["nodes"][0]["host"], "in-process");
  EXPECT_EQ(status["nodes"][1]["host"], std::string(host));
  EXPECT_TRUE(contains(err, std::string("node 1 joined from ") + host)) << err;
}

}  // namespace
}  // namespace baffle::e2e
