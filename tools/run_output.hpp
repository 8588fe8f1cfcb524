// Run folder outputs: rounds.csv (one row per round, written whole and flushed), summary.json
// (written atomically), the resolved scenario, and a progress line on the terminal.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "actors/metrics.hpp"
#include "actors/protocol.hpp"
#include "models/result.hpp"
#include "scenarios/scenario.hpp"

namespace baffle {

/// Chooses the run folder: `requested` if given, else runs/<name>, else runs/<name>-2, -3...
/// so an earlier run's results are never overwritten by default.
std::filesystem::path choose_run_dir(const std::string& requested, const std::string& name);

/// Writes text to path atomically (a temporary file in the same folder, fsync, rename; see
/// net/atomic_file.hpp).
bool write_file_atomic(const std::filesystem::path& path, const std::string& text);

/// Where a resumed run continues: read from DIR/checkpoint.bin by prepare_resume.
struct resume_point {
  int64_t round = 0;          ///< the last round the checkpoint includes
  std::string state;          ///< the server's state (actors/checkpoint.hpp)
  uint64_t rounds_csv_bytes = 0;
  uint64_t events_bytes = 0;
  bool events = false;        ///< the run writes events.log
  double wall_seconds = 0.0;  ///< wall time the run had spent when the checkpoint was written
};

/// A fingerprint of the resolved scenario text: a checkpoint only resumes the scenario it was
/// written for.
std::string scenario_fingerprint(const std::string& resolved_toml);

/// Reads and checks DIR/checkpoint.bin against the scenario, then cuts rounds.csv and events.log
/// back to their lengths at the checkpoint (dropping rows written after it, or half a row left by
/// a crash). The error says what is wrong and what to do.
result<resume_point> prepare_resume(const std::filesystem::path& dir,
                                    const std::string& fingerprint);

/// Writes rounds.csv as rounds finish and shows progress on stderr: a live line on a terminal,
/// otherwise about twenty lines over the run (so logs are not flooded). Checkpoints go to
/// checkpoint.bin (sealed, written atomically) with the lengths of the files above.
class run_recorder final : public metrics_sink {
 public:
  /// events: also write events.log, one line per event. resume: append to the files (already cut
  /// back by prepare_resume) and count wall time from resume->wall_seconds.
  run_recorder(const std::filesystem::path& dir, int64_t total_rounds, bool quiet,
               bool events = false, const resume_point* resume = nullptr);
  ~run_recorder() override;
  bool ok() const { return csv_ != nullptr; }
  void on_round(const round_record& r) override;
  /// Writes clients.csv (atomically).
  void on_clients(const std::vector<client_record>& clients) override;
  void on_events(const std::vector<event_record>& events) override;
  /// Writes nodes.csv (atomically): every node, where it ran, and whether and why it was lost.
  void on_nodes(const std::vector<node_record>& nodes) override;
  /// A node lost or joined: one line on stderr.
  void on_log(const std::string& line) override;
  void on_checkpoint(int64_t round, std::string state) override;
  /// The scenario the checkpoints belong to (see scenario_fingerprint).
  void set_fingerprint(std::string fingerprint) { fingerprint_ = std::move(fingerprint); }
  /// For the BAFFLE_FAULT test hook: after raising a signal, wait until it has been handled, so
  /// the stop takes effect at this round.
  void set_fault_wait(std::function<void()> wait) { fault_wait_ = std::move(wait); }
  /// The last round a checkpoint was written for (0: none).
  int64_t last_checkpoint() const { return last_checkpoint_; }
  /// The record of the last evaluated round this recorder wrote (null: none yet).
  const round_record* last_evaluation() const {
    return last_evaluation_ ? &*last_evaluation_ : nullptr;
  }
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
  std::optional<round_record> last_evaluation_;
  std::string fingerprint_;
  double wall_offset_ = 0.0;
  int64_t last_checkpoint_ = 0;
  int64_t fault_round_ = 0;  ///< BAFFLE_FAULT test hook: after this round's row...
  std::string fault_;        ///< ...do this: "kill" (SIGKILL after half a row) | "int" | "term"
  std::function<void()> fault_wait_;
};

/// summary.json contents. `final_round`: the last round's record (it is always evaluated), for
/// the figures only some runs have (the raw weights beside an EMA, the model at the clients'
/// precision); null or another round: left out.
std::string summary_json(const scenario& sc, const run_outcome& o, double wall_time_s,
                         const round_record* final_round = nullptr);

}  // namespace baffle
