// `baffle run` and `baffle run --resume`: load, build, run with progress, checkpoints and clean
// stops on SIGINT/SIGTERM, and write the run folder. Plain functions (no CLI11): baffle.cpp parses
// the command line into run_request.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scenarios/scenario.hpp"
#include "tools/cluster_command.hpp"
#include "tools/monitor_option.hpp"

namespace baffle {

struct run_request {
  std::string scenario_path;      ///< run: the scenario file
  std::vector<std::string> sets;  ///< run: --set overrides
  std::string out;                ///< run: the run folder ("" = runs/<name>[-N])
  std::string resume_dir;         ///< resume: the run folder to continue ("" = a new run)
  int threads = 1;
  int nodes = 0;  ///< in-process nodes (0: the scenario's run.nodes); results do not depend on it
  bool quiet = false;
  bool events = false;  ///< run: also write events.log (a resumed run keeps what it had)
  monitor_request monitor;  ///< --monitor: a live HTTP monitor of the run
  std::optional<serve_request> serve;  ///< baffle serve: worker processes are the nodes
};

/// Loads and validates a scenario; prints every error to stderr. nullopt means exit 2.
std::optional<scenario> load_or_report(const std::string& path,
                                       const std::vector<std::string>& sets);

/// Exit codes: 0 done; 2 bad input (nothing written); 1 I/O or run failure; 128 + signal when
/// stopped by SIGINT/SIGTERM after writing a checkpoint (continue with --resume).
int run_command(const run_request& req);

}  // namespace baffle
