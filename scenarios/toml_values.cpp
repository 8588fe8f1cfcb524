// Reading one scenario value from its TOML node (see toml_values.hpp).
#include "scenarios/toml_values.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "net/text.hpp"
#include "scenarios/toml_text.hpp"
#include "scenarios/units.hpp"

namespace baffle::loader_detail {
namespace {

constexpr size_t max_value_text = 80;  // longer values are elided in messages

}  // namespace

/// Optimal string alignment distance (edits, with adjacent swaps as one edit), capped at 3
/// so that junk keys of any length cost little.
size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t cap = 3;
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) >= cap) return cap;
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return std::min(d[a.size()][b.size()], cap);
}

/// The closest candidate within two edits, or empty.
std::string_view nearest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view c : candidates) {
    const size_t dist = edit_distance(word, c);
    if (dist < best_distance) {
      best = c;
      best_distance = dist;
    }
  }
  return best;
}

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::array:
      return "array";
    case toml::node_type::table:
      return "table";
    default:
      return "nothing";
  }
}

/// The value as TOML text on one line, elided if long; empty for tables (they span lines).
std::string value_text(const toml::node& n) {
  if (n.is_table()) return "";
  // Numbers as written (shortest form that reads back exactly), not toml++'s 17 digits.
  if (const auto* f = n.as_floating_point()) return format_double(f->get());
  std::ostringstream os;
  // Double-quoted strings, as users most often write them (toml++ prefers 'literal' ones).
  os << toml::toml_formatter{
      n, toml::toml_formatter::default_flags & ~toml::format_flags::allow_literal_strings};
  std::string s = os.str();
  std::string flat;
  bool in_space = false;
  for (char c : s) {  // arrays may be printed over several lines
    const bool space = c == '\n' || c == '\r' || c == ' ' || c == '\t';
    if (space && !in_space) flat += ' ';
    if (!space) flat += c;
    in_space = space;
  }
  if (flat.size() > max_value_text) flat = flat.substr(0, max_value_text - 3) + "...";
  return flat;
}

/// "string \"abc\"", "a table", "array [1, 2]" for "expected X, got ..." messages.
std::string got(const toml::node& n) {
  if (n.is_table()) return "a table";
  return std::string(type_name(n)) + " " + value_text(n);
}

namespace {

/// The readers, one per value type; each reports through `report_` and returns false if bad.
struct typed_reader {
  const value_reader::report& report_;

  void error_at(const std::string& key, const toml::node& n, std::string message) const {
    report_(key, n, std::move(message));
  }

  /// Reads an integer in [lo, hi]; false if bad.
  bool read_int(const std::string& key, const toml::node& node, int64_t& out, int64_t lo,
                int64_t hi) const {
    const toml::node* n = &node;
    const std::string allowed = int_range_text(lo, hi);
    const auto* i = n->as_integer();
    if (i == nullptr) {
      error_at(key, *n, "expected an integer, got " + got(*n) + "; must be an integer " + allowed);
      return false;
    }
    const int64_t v = i->get();
    if (v < lo) {
      error_at(key, *n, "must be an integer " + allowed);
      return false;
    }
    if (v > hi) {
      error_at(key, *n,
               "must be an integer " + allowed +
                   (allowed[0] == '>' ? " and <= " + std::to_string(hi) + " (the largest supported)"
                                      : ""));
      return false;
    }
    out = v;
    return true;
  }

  /// Reads a finite number (integers accepted) within `range`.
  bool read_float(const std::string& key, const toml::node& node, double& out,
                  const number_range& range) const {
    const toml::node* n = &node;
    double v = 0;
    if (const auto* f = n->as_floating_point()) {
      v = f->get();
    } else if (const auto* i = n->as_integer()) {
      v = static_cast<double>(i->get());
    } else {
      error_at(key, *n, "expected a number, got " + got(*n) + "; must be a number " + range.text());
      return false;
    }
    if (!std::isfinite(v)) {
      error_at(key, *n, "must be a finite number " + range.text());
      return false;
    }
    if (!range.contains(v)) {
      error_at(key, *n, "must be a number " + range.text());
      return false;
    }
    out = v;
    return true;
  }

  const toml::value<std::string>* string_node(const std::string& key, const toml::node& n,
                                              std::string_view what) const {
    const auto* s = n.as_string();
    if (s == nullptr)
      error_at(key, n, "expected a string, got " + got(n) + "; must be " + std::string(what));
    return s;
  }

  bool read_string(const std::string& key, const toml::node& node, std::string& out) const {
    const toml::node* n = &node;
    const auto* s = string_node(key, *n, "a non-empty string");
    if (s == nullptr) return false;
    if (s->get().empty()) {
      error_at(key, *n, "must be a non-empty string");
      return false;
    }
    out = s->get();
    return true;
  }

  bool read_enum(const std::string& key, const toml::node& node, std::string& out,
                 const std::vector<std::string_view>& allowed) const {
    const toml::node* n = &node;
    std::string list;
    for (std::string_view a : allowed)
      list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
    const auto* s = string_node(key, *n, "one of " + list);
    if (s == nullptr) return false;
    const std::string& v = s->get();
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) {
      out = v;
      return true;
    }
    std::string message = "must be one of " + list;
    const std::string_view near = nearest(lower(v), allowed);
    if (!near.empty()) message += "; did you mean \"" + std::string(near) + "\"?";
    error_at(key, *n, std::move(message));
    return false;
  }

  bool read_rate(const std::string& key, const toml::node& node, double& out) const {
    const toml::node* n = &node;
    const std::string allowed = "must be " + std::string(rate_syntax());
    const auto* s = n->as_string();
    const std::optional<double> r = s != nullptr ? parse_rate(s->get()) : std::nullopt;
    if (!r) {
      error_at(key, *n,
               (s == nullptr ? "expected a rate string, got " + got(*n)
                             : std::string("is not a valid rate")) +
                   "; " + allowed);
      return false;
    }
    out = *r;
    return true;
  }

  /// One field of a distribution: a duration (time-valued) or a number.
  bool distribution_scalar(const toml::node& v, const std::string& k, bool time, double& x) const {
    if (time) {
      const std::string allowed = "must be " + std::string(duration_syntax());
      const auto* s = v.as_string();
      if (s == nullptr) {
        error_at(k, v, "expected a duration string, got " + got(v) + "; " + allowed);
        return false;
      }
      const auto d = parse_duration(s->get());
      if (!d) {
        const bool negative = !s->get().empty() && s->get()[0] == '-';
        error_at(k, v,
                 std::string(negative ? "must not be negative; " : "is not a valid duration; ") +
                     allowed);
        return false;
      }
      x = d->seconds();
      return true;
    }
    if (const auto* f = v.as_floating_point()) {
      x = f->get();
    } else if (const auto* i = v.as_integer()) {
      x = static_cast<double>(i->get());
    } else {
      error_at(k, v, "expected a number, got " + got(v));
      return false;
    }
    return true;
  }

  /// A distribution: a plain value (constant), or an inline table {dist = "uniform", min, max},
  /// {dist = "normal", mean, stddev}, {dist = "lognormal", median, sigma}, {dist = "constant",
  /// value}. Time-valued ones take durations ("50ms") for every field but sigma.
  bool read_distribution(const std::string& key, const toml::node& node, distribution& out,
                         bool time) const {
    const toml::node* n = &node;
    const std::string shapes =
        "a " + std::string(time ? "duration" : "number") +
        ", or {dist = \"uniform\", min, max}, {dist = \"normal\", mean, stddev} or "
        "{dist = \"lognormal\", median, sigma}";
    const toml::table* t = n->as_table();
    if (t == nullptr) {
      double x = 0;
      if (!distribution_scalar(*n, key, time, x)) return false;
      const distribution d = distribution::constant(x);
      if (auto e = distribution_error(d)) {
        error_at(key, *n, *e);
        return false;
      }
      out = d;
      return true;
    }
    const toml::node* dist = t->get("dist");
    const auto* name = dist != nullptr ? dist->as_string() : nullptr;
    const std::optional<distribution::kind> kind =
        name != nullptr ? parse_name<distribution::kind>(name->get()) : std::nullopt;
    if (!kind) {
      error_at(key + ".dist", dist != nullptr ? *dist : *n,
               "must be one of " + quoted_names<distribution::kind>() + "; " + key + " must be " +
                   shapes);
      return false;
    }
    std::vector<std::string> wanted;
    for (std::string_view f : distribution_fields(*kind))
      if (!f.empty()) wanted.emplace_back(f);
    std::string list;
    for (const auto& w : wanted) list += (list.empty() ? "" : ", ") + w;
    bool ok = true;
    for (auto&& [k, v] : *t) {
      const std::string field(k.str());
      if (field != "dist" && std::find(wanted.begin(), wanted.end(), field) == wanted.end()) {
        error_at(key + "." + field, v,
                 "unknown field for dist = \"" + name->get() + "\"; allowed: dist, " + list);
        ok = false;
      }
    }
    double p[2] = {0, 0};
    for (size_t i = 0; i < wanted.size(); ++i) {
      const toml::node* v = t->get(wanted[i]);
      if (v == nullptr) {
        error_at(key + "." + wanted[i], *n,
                 "missing; dist = \"" + name->get() + "\" needs " + list);
        ok = false;
        continue;
      }
      // sigma of a lognormal is the spread of the log: a plain number even for times.
      ok = distribution_scalar(*v, key + "." + wanted[i], time && wanted[i] != "sigma", p[i]) && ok;
    }
    if (!ok) return false;
    const distribution d{*kind, p[0], p[1]};
    if (auto e = distribution_error(d)) {
      error_at(key, *n, *e + "; must be " + shapes);
      return false;
    }
    out = d;
    return true;
  }

  bool read_bool(const std::string& key, const toml::node& node, bool& out) const {
    const toml::node* n = &node;
    const auto* b = n->as_boolean();
    if (b == nullptr) {
      error_at(key, *n, "expected a boolean, got " + got(*n) + "; must be true or false");
      return false;
    }
    out = b->get();
    return true;
  }

  bool read_duration(const std::string& key, const toml::node& node, sim_time& out) const {
    const toml::node* n = &node;
    const std::string allowed = "must be " + std::string(duration_syntax());
    const auto* s = n->as_string();
    if (s == nullptr) {
      error_at(key, *n, "expected a duration string, got " + got(*n) + "; " + allowed);
      return false;
    }
    const std::optional<sim_time> d = parse_duration(s->get());
    if (!d) {
      const bool negative = !s->get().empty() && s->get()[0] == '-';
      error_at(
          key, *n,
          std::string(negative ? "must not be negative; " : "is not a valid duration; ") + allowed);
      return false;
    }
    out = *d;
    return true;
  }

  bool read_int_array(const std::string& key, const toml::node& node, std::vector<int>& out, int lo,
                      int hi) const {
    const toml::node* n = &node;
    const toml::array* a = n->as_array();
    const std::string allowed = "an array of integers, each in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], e.g. [128, 64] (may be empty)";
    if (a == nullptr) {
      error_at(key, *n, "expected an array, got " + got(*n) + "; must be " + allowed);
      return false;
    }
    std::vector<int> values;
    bool ok = true;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const std::string element = key + "[" + std::to_string(i) + "]";
      if (const auto* v = e.as_integer(); v != nullptr && v->get() >= lo && v->get() <= hi) {
        values.push_back(static_cast<int>(v->get()));
      } else if (v != nullptr) {
        error_at(element, e,
                 "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        ok = false;
      } else {
        error_at(element, e,
                 "expected an integer, got " + got(e) + "; " + key + " must be " + allowed);
        ok = false;
      }
    }
    if (ok) out = std::move(values);
    return ok;
  }
};

}  // namespace

bool value_reader::read(const key_spec& k, const toml::node& node, key_value& v) const {
  const std::string key(k.name);
  const typed_reader r{report_};
  bool good = true;
  switch (k.type) {
    case value_type::integer:
      good = r.read_int(key, node, std::get<int64_t>(v), k.int_lo, k.int_hi);
      break;
    case value_type::number:
      good = r.read_float(key, node, std::get<double>(v), k.range);
      break;
    case value_type::boolean:
      good = r.read_bool(key, node, std::get<bool>(v));
      break;
    case value_type::string:
      good = r.read_string(key, node, std::get<std::string>(v));
      break;
    case value_type::choice:
      good = r.read_enum(key, node, std::get<std::string>(v), k.choices);
      break;
    case value_type::duration:
      good = r.read_duration(key, node, std::get<sim_time>(v));
      break;
    case value_type::rate:
      good = r.read_rate(key, node, std::get<double>(v));
      break;
    case value_type::duration_distribution:
    case value_type::number_distribution:
      good = r.read_distribution(key, node, std::get<distribution>(v),
                                 k.type == value_type::duration_distribution);
      break;
    case value_type::int_list:
      good = r.read_int_array(key, node, std::get<std::vector<int>>(v), static_cast<int>(k.int_lo),
                              static_cast<int>(k.int_hi));
      break;
  }
  return good;
}

}  // namespace baffle::loader_detail
