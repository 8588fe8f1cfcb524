// The monitor options of run and sweep (see monitor_option.hpp).
#include "tools/monitor_option.hpp"

#include <chrono>
#include <iostream>

#include "net/stop_signal.hpp"

namespace baffle {

bool start_monitor(const monitor_request& req, std::unique_ptr<monitor>& out) {
  out.reset();
  if (req.address.empty()) return true;
  const auto address = parse_monitor_address(req.address, req.allow_public);
  if (!address) {
    std::cerr << "error: " << address.error() << "; nothing was run or written\n";
    return false;
  }
  auto m = monitor::start(address->host, address->port);
  if (!m) {
    std::cerr << "error: --monitor: " << m.error()
              << " (choose another port, or 0 for a free one); nothing was run or written\n";
    return false;
  }
  out = std::move(*m);
  std::cerr << "monitor: " << out->url() << "\n";
  return true;
}

void linger_and_stop(std::unique_ptr<monitor>& mon, const monitor_request& req,
                     const stop_signals& signals) {
  if (!mon) return;
  mon->sync();
  if (req.linger_s > 0 && !signals.stop_requested()) {
    std::cerr << "monitor: serving the final state at " << mon->url() << " for " << req.linger_s
              << " s (Ctrl-C to quit)\n";
    signals.wait_for_stop(std::chrono::milliseconds(static_cast<int64_t>(req.linger_s * 1000)));
  }
  mon.reset();
}

}  // namespace baffle
