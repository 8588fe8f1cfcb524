// TOML text for scenario values (see toml_text.hpp).
#include "scenarios/toml_text.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "scenarios/units.hpp"

namespace baffle {

std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

std::string toml_float(double v) {
  std::string t = format_double(v);
  if (t.find_first_of(".eni") == std::string::npos) t += ".0";
  return t;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04X", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string distribution_toml(const distribution& d, bool time) {
  const auto v = [&](double x) {
    if (!time) return toml_float(x);
    return quote(format_duration(sim_time::from_ns(static_cast<int64_t>(std::llround(x * 1e9)))));
  };
  if (d.k == distribution::kind::constant) return v(d.a);
  const auto [first, second] = distribution_fields(d.k);
  // sigma of a lognormal is the spread of the log: a plain number even for times.
  const std::string b = d.k == distribution::kind::lognormal ? toml_float(d.b) : v(d.b);
  std::string out = "{ dist = ";
  out += quote(name_of(d.k));
  out += ", " + std::string(first) + " = " + v(d.a) + ", " + std::string(second) + " = " + b;
  return out + " }";
}

}  // namespace baffle
