// Pieces shared by the live monitor's tests: a sink that holds the simulation at a round until
// the test lets it go (so endpoints are fetched at a known point without sleeping), a sink that
// records rounds.csv rows without the wall-clock column, a run held by both on a thread of its
// own, and JSON fetching over loopback.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/metrics.hpp"
#include "actors/round_columns.hpp"
#include "actors/runtime.hpp"
#include "tests/net/http_client.hpp"

namespace baffle::test {

/// Blocks the server's thread after each round's report until release() lets that round go.
/// Attach it after the monitor: the monitor has then been handed the round when it blocks.
class gate_sink final : public metrics_sink {
 public:
  void on_round(const round_record& r) override {
    std::unique_lock<std::mutex> lock(m_);
    reached_ = r.round;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_ >= r.round; });
  }
  void wait_reached(int64_t round) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return reached_ >= round; });
  }
  void release(int64_t round) {
    {
      std::lock_guard<std::mutex> lock(m_);
      released_ = round;
    }
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int64_t reached_ = 0;
  int64_t released_ = 0;
};

/// rounds.csv rows as the run wrote them, wall-clock column set to 0.
class row_sink final : public metrics_sink {
 public:
  void on_round(const round_record& r) override { rows.push_back(rounds_csv_row({r, 0.0})); }
  std::vector<std::string> rows;
};

/// A run on a thread of its own that reports to `first` (the monitor), then `rows`, then `gate`,
/// which holds it after every round until released.
class held_run {
 public:
  held_run(metrics_sink& first, std::shared_ptr<const world> w, run_options opt)
      : rt_({opt.threads, false}) {
    rt_.attach(&first);
    rt_.attach(&rows);
    rt_.attach(&gate);
    thread_ = std::thread([this, w = std::move(w), opt] { outcome_ = rt_.run(w, opt); });
  }
  ~held_run() { finish(); }
  held_run(const held_run&) = delete;
  held_run& operator=(const held_run&) = delete;

  /// Lets every remaining round go and returns the outcome once the run has ended.
  const run_outcome& finish() {
    gate.release(std::numeric_limits<int64_t>::max());
    if (thread_.joinable()) thread_.join();
    return outcome_;
  }

  gate_sink gate;
  row_sink rows;

 private:
  runtime rt_;
  run_outcome outcome_;
  std::thread thread_;
};

inline nlohmann::json get_json(uint16_t port, const std::string& target) {
  const http_answer a = http_get(port, target);
  EXPECT_EQ(a.status, 200) << target << ": " << a.body;
  return a.status == 200 ? nlohmann::json::parse(a.body) : nlohmann::json();
}

}  // namespace baffle::test
