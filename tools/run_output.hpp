// Run folder outputs: rounds.csv (one row per round, written whole and flushed), summary.json
// (written atomically), the resolved scenario, and a progress line on the terminal.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "actors/metrics.hpp"
#include "actors/protocol.hpp"
#include "scenarios/scenario.hpp"

namespace baffle {

/// Chooses the run folder: `requested` if given, else runs/<name>, else runs/<name>-2, -3...
/// so an earlier run's results are never overwritten by default.
std::filesystem::path choose_run_dir(const std::string& requested, const std::string& name);

/// Writes text to path atomically (a temporary file in the same folder, then rename).
bool write_file_atomic(const std::filesystem::path& path, const std::string& text);

/// Writes rounds.csv as rounds finish and shows progress on stderr: a live line on a terminal,
/// otherwise about twenty lines over the run (so logs are not flooded).
class run_recorder final : public metrics_sink {
 public:
  /// events: also write events.log, one line per event.
  run_recorder(const std::filesystem::path& dir, int64_t total_rounds, bool quiet,
               bool events = false);
  ~run_recorder() override;
  bool ok() const { return csv_ != nullptr; }
  void on_round(const round_record& r) override;
  /// Writes clients.csv (atomically).
  void on_clients(const std::vector<client_record>& clients) override;
  void on_events(const std::vector<event_record>& events) override;
  double wall_seconds() const;
  /// Ends the progress line.
  void finish();

 private:
  std::filesystem::path dir_;
  std::FILE* csv_ = nullptr;
  std::FILE* events_ = nullptr;
  int64_t total_rounds_;
  bool quiet_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
  std::string last_eval_;
};

/// summary.json contents.
std::string summary_json(const scenario& sc, const run_outcome& o, double wall_time_s);

}  // namespace baffle
