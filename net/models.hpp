// Link and device models: how long a message or a computation takes in the simulated world.
// Pure functions of the profile and the work; no wall clock anywhere.
#pragma once

#include <cstdint>

#include "net/sim_time.hpp"

namespace baffle {

/// A one-way link: fixed latency plus serialisation at a bandwidth (0 = unlimited).
struct link_profile {
  sim_time latency;
  double bytes_per_sec = 0.0;
};

/// A device's compute speed in GFLOP/s.
struct device_profile {
  double gflops = 1.0;
};

/// Arrival delay of a message of `bytes` sent over link l: latency + bytes / bandwidth.
sim_time transfer_time(const link_profile& l, uint64_t bytes);

/// Time device d needs for `flops` floating-point operations (rounded to the nanosecond).
sim_time compute_time(const device_profile& d, double flops);

}  // namespace baffle
