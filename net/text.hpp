// Small text helpers shared by the parsers of outside input (scenario overrides, sweep grids,
// availability traces): ASCII only, so results never depend on the locale.
#pragma once

#include <string>
#include <string_view>

namespace baffle {

/// `s` without leading and trailing spaces, tabs, carriage returns and newlines.
inline std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const size_t last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

/// `s` with ASCII capitals made small.
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace baffle
