// TOML text for values the scenario code prints: numbers in their shortest exact form, quoted
// strings, distributions as scenario files write them. Free of toml++ so any TU can use it.
#pragma once

#include <string>
#include <string_view>

#include "net/profiles.hpp"

namespace baffle {

/// Shortest decimal that reads back to the same double ("0.1", "1e-08", "inf", "nan").
std::string format_double(double v);
/// A TOML float: as format_double, with ".0" added where it would read back as an integer.
std::string toml_float(double v);
/// A TOML basic string literal for `s`, escapes included.
std::string quote(std::string_view s);
/// A distribution as scenario files write it: time-valued ones in durations (sigma stays a plain
/// number), e.g. "50ms" or { dist = "uniform", min = "20ms", max = "80ms" }.
std::string distribution_toml(const distribution& d, bool time);

}  // namespace baffle
