// --monitor, --monitor-public and --monitor-linger of `baffle run` and `baffle sweep`: start the
// live monitor (actors/monitor.hpp) before anything runs, and keep it serving after the end.
#pragma once

#include <memory>
#include <string>

#include "actors/monitor.hpp"

namespace baffle {

class stop_signals;

struct monitor_request {
  std::string address;        ///< "HOST:PORT"; empty: no monitor
  bool allow_public = false;  ///< --monitor-public: a non-loopback address is allowed
  double linger_s = 0.0;      ///< --monitor-linger: serve the final state this long after the end
};

/// Starts the monitor the request asks for (out stays null when it asks for none) and prints
/// "monitor: http://HOST:PORT/" on stderr. False, with the error printed, when the address is
/// malformed, not loopback without --monitor-public, or cannot be bound (exit 2).
bool start_monitor(const monitor_request& req, std::unique_ptr<monitor>& out);

/// After the run: shows the final state until --monitor-linger passes or a signal arrives, then
/// stops the monitor. Does not linger when the run was stopped by a signal.
void linger_and_stop(std::unique_ptr<monitor>& mon, const monitor_request& req,
                     const stop_signals& signals);

}  // namespace baffle
