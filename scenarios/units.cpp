// Parsing and printing of durations in scenario files. Integer arithmetic throughout, so "0.1s"
// is exactly 100000000 ns and a printed duration reads back to the same sim_time.
#include "scenarios/units.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace baffle {
namespace {

struct unit {
  std::string_view suffix;
  int64_t ns;  // nanoseconds per unit
};

// Ascending size: format_duration walks them from the largest, so a tie keeps the larger unit.
// Suffixes are matched whole, so parsing does not depend on the order.
constexpr std::array<unit, 7> units = {{
    {"ns", 1},
    {"us", 1'000},
    {"\u00b5s", 1'000},  // micro sign, as researchers sometimes paste it
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"min", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Fraction digits beyond this (after trailing zeros are dropped) can never give whole
// nanoseconds for any unit above, and keep frac * unit within __int128.
constexpr size_t max_fraction_digits = 18;

}  // namespace

std::optional<sim_time> parse_duration(std::string_view text) {
  size_t i = 0;
  std::string_view int_digits;
  while (i < text.size() && is_digit(text[i])) ++i;
  int_digits = text.substr(0, i);
  if (int_digits.empty()) return std::nullopt;  // also rejects sign, '.5s', whitespace, "ms"
  std::string_view frac_digits;
  if (i < text.size() && text[i] == '.') {
    const size_t start = ++i;
    while (i < text.size() && is_digit(text[i])) ++i;
    frac_digits = text.substr(start, i - start);
    if (frac_digits.empty()) return std::nullopt;  // "5.s"
  }
  const std::string_view suffix = text.substr(i);
  while (!frac_digits.empty() && frac_digits.back() == '0') frac_digits.remove_suffix(1);

  int64_t per_unit = 0;
  for (const unit& u : units) {
    if (u.suffix == suffix) per_unit = u.ns;
  }
  if (per_unit == 0) {
    // A bare number is ambiguous, except zero, which is zero in every unit.
    if (!suffix.empty()) return std::nullopt;
    if (!frac_digits.empty() || int_digits.find_first_not_of('0') != std::string_view::npos)
      return std::nullopt;
    return sim_time{0};
  }
  if (frac_digits.size() > max_fraction_digits) return std::nullopt;

  constexpr __int128 limit = std::numeric_limits<int64_t>::max();
  __int128 whole = 0;
  for (char c : int_digits) {
    whole = whole * 10 + (c - '0');
    if (whole > limit) return std::nullopt;  // stop early so huge digit strings cannot overflow
  }
  __int128 frac = 0;
  __int128 scale = 1;
  for (char c : frac_digits) {
    frac = frac * 10 + (c - '0');
    scale *= 10;
  }
  const __int128 frac_ns = frac * per_unit;
  if (frac_ns % scale != 0) return std::nullopt;  // not a whole number of nanoseconds
  const __int128 total = whole * per_unit + frac_ns / scale;
  if (total > limit) return std::nullopt;
  return sim_time{static_cast<int64_t>(total)};
}

std::string format_duration(sim_time t) {
  if (t.ns == 0) return "0";
  if (t.ns < 0) {
    // -INT64_MIN overflows; its only exact form is in ns anyway.
    if (t.ns == std::numeric_limits<int64_t>::min()) return std::to_string(t.ns) + "ns";
    std::string out = "-";
    out += format_duration(sim_time{-t.ns});
    return out;
  }
  std::string best;
  // Larger units first, so a tie in length keeps the larger unit.
  for (auto it = units.rbegin(); it != units.rend(); ++it) {
    if (it->suffix == "\u00b5s") continue;  // print the ASCII spelling
    const int64_t whole = t.ns / it->ns;
    int64_t rest = t.ns % it->ns;
    std::string s = std::to_string(whole);
    if (rest != 0) {
      // Only decimal units (powers of ten in ns) have a finite exact fraction for every value.
      int64_t digits = 0;
      for (int64_t m = it->ns; m > 1; m /= 10) {
        if (m % 10 != 0) {
          digits = -1;
          break;
        }
        ++digits;
      }
      if (digits < 0) continue;
      std::string frac = std::to_string(rest);
      frac.insert(0, static_cast<size_t>(digits) - frac.size(), '0');
      while (frac.back() == '0') frac.pop_back();
      s += "." + frac;
    }
    s += it->suffix;
    if (best.empty() || s.size() < best.size()) best = std::move(s);
  }
  return best;
}

std::string_view duration_syntax() {
  return "a duration such as \"50ms\", \"1.5s\", \"200us\", \"10ns\", \"2min\" or \"0\" (units ns, "
         "us, ms, s, min, h; no space, sign or exponent)";
}

}  // namespace baffle
