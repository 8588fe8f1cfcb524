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
  switch (d.k) {
    case distribution::kind::constant:
      return v(d.a);
    case distribution::kind::uniform:
      return "{ dist = \"uniform\", min = " + v(d.a) + ", max = " + v(d.b) + " }";
    case distribution::kind::normal:
      return "{ dist = \"normal\", mean = " + v(d.a) + ", stddev = " + v(d.b) + " }";
    case distribution::kind::lognormal:
      return "{ dist = \"lognormal\", median = " + v(d.a) + ", sigma = " + toml_float(d.b) + " }";
  }
  return v(d.a);
}

}  // namespace baffle
