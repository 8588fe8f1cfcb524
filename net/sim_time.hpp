// Virtual (simulated) time: integer nanoseconds in a type of its own, never mixed with wall time.
#pragma once

#include <compare>
#include <cstdint>

namespace baffle {

/// A point or span of simulated time, in integer nanoseconds.
struct sim_time {
  int64_t ns = 0;

  static constexpr sim_time from_ns(int64_t v) { return sim_time{v}; }
  static constexpr sim_time from_ms(double v) {
    return sim_time{static_cast<int64_t>(v * 1e6 + (v >= 0 ? 0.5 : -0.5))};
  }
  static constexpr sim_time from_seconds(double v) {
    return sim_time{static_cast<int64_t>(v * 1e9 + (v >= 0 ? 0.5 : -0.5))};
  }
  constexpr double seconds() const { return static_cast<double>(ns) * 1e-9; }

  constexpr auto operator<=>(const sim_time&) const = default;
  constexpr sim_time operator+(sim_time o) const { return sim_time{ns + o.ns}; }
  constexpr sim_time operator-(sim_time o) const { return sim_time{ns - o.ns}; }
  constexpr sim_time& operator+=(sim_time o) {
    ns += o.ns;
    return *this;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sim_time& t) {
  return f(t.ns);
}

}  // namespace baffle
