// Units written in scenario files: durations such as "50ms" become integer-nanosecond `sim_time`
// exactly, or not at all. Kept free of toml++ so any layer can parse and print them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/sim_time.hpp"

namespace baffle {

/// "50ms", "1.5s", "200us", "10ns", "2min", "0" -> sim_time; nullopt if malformed or negative.
///
/// Grammar: digits, optionally '.' and more digits, then one unit out of ns, us (or µs), ms, s,
/// min, h; no sign, no exponent, no whitespace anywhere ("10 ms" and "1e3s" are rejected). A
/// bare zero ("0", "0.0") needs no unit. The value must be a whole number of nanoseconds
/// ("1.5ns" is rejected rather than rounded) and fit in sim_time (about 292 years).
std::optional<sim_time> parse_duration(std::string_view text);

/// Shortest exact form that parse_duration reads back to `t`, e.g. "50ms", "1.5s", "0".
/// Ties prefer the larger unit ("2min" over "120s"). Negative spans get a leading '-'.
std::string format_duration(sim_time t);

/// The duration syntax in one line, for error messages.
std::string_view duration_syntax();

}  // namespace baffle
