// Link and device time models.
#include "net/models.hpp"

#include <cmath>

namespace baffle {

sim_time transfer_time(const link_profile& l, uint64_t bytes) {
  if (l.bytes_per_sec <= 0.0) return l.latency;
  const double ns = static_cast<double>(bytes) * 1e9 / l.bytes_per_sec;
  return l.latency + sim_time::from_ns(static_cast<int64_t>(std::ceil(ns)));
}

sim_time compute_time(const device_profile& d, double flops) {
  const double ns = flops / d.gflops;  // GFLOP/s = flop per ns
  return sim_time::from_ns(static_cast<int64_t>(std::ceil(ns)));
}

}  // namespace baffle
