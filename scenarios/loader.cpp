// Scenario loader and validator: parses TOML with toml++ (this is the only file that includes it),
// applies --set overrides, then walks the schema table (scenarios/schema.cpp): reads and checks
// every key by its type, fills derived defaults, checks applicability and the named cross-key
// rules, and collects all errors at once. Nothing here names a particular key.
#include "scenarios/loader.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <sstream>
#include <system_error>
#include <tuple>

// toml++ is built with TOML_HEADER_ONLY=0 (see CMakeLists.txt); its implementation is compiled
// here, in the one TU that uses it. Its internal asserts are off in every build type: 3.3 asserts
// in parse_key on malformed headers such as "[=" or "[[[1]]]" (fixed upstream in
// marzer/tomlplusplus#301), which would abort debug builds on bad user input; with the assert
// skipped, as in release builds, the parser reports an ordinary parse_error.
#define TOML_IMPLEMENTATION
#define TOML_ASSERT(expr) static_assert(true)
#include <toml++/toml.h>

#include "net/text.hpp"
#include "scenarios/schema.hpp"
#include "scenarios/toml_text.hpp"
#include "scenarios/units.hpp"

namespace baffle {
namespace {

using namespace std::string_view_literals;

constexpr size_t max_value_text = 80;  // longer values are elided in messages

bool is_known_key(std::string_view k) {
  return find_key(k) != nullptr;
}

bool is_known_table(std::string_view k) {
  const auto& tables = schema_tables();
  return std::find(tables.begin(), tables.end(), k) != tables.end();
}

std::string_view parent_of(std::string_view dotted) {
  const size_t dot = dotted.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : dotted.substr(0, dot);
}

std::string_view leaf_of(std::string_view dotted) {
  const size_t dot = dotted.rfind('.');
  return dot == std::string_view::npos ? dotted : dotted.substr(dot + 1);
}

/// Names allowed directly inside `table` ("" = top level): leaf keys, then sub-tables.
std::vector<std::string_view> children_of(std::string_view table) {
  std::vector<std::string_view> out;
  for (const key_spec& k : schema_keys())
    if (k.table() == table) out.push_back(k.leaf());
  for (std::string_view t : schema_tables())
    if (parent_of(t) == table) out.push_back(leaf_of(t));
  return out;
}

std::string table_label(std::string_view table) {
  return table.empty() ? std::string("at the top level") : "in [" + std::string(table) + "]";
}

/// "rounds, batch_size, [clients.link]" for the names allowed in `table`.
std::string allowed_children(std::string_view table) {
  std::string out;
  for (std::string_view c : children_of(table)) {
    if (!out.empty()) out += ", ";
    std::string full = table.empty() ? std::string(c) : std::string(table) + "." + std::string(c);
    out += is_known_table(full) ? "[" + full + "]" : std::string(c);
  }
  return out;
}

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

std::vector<std::string> split_dotted(std::string_view dotted) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    parts.emplace_back(dotted.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

/// --set overrides by key, so errors about their values can say where they came from.
using override_origins = std::map<std::string, std::string, std::less<>>;

/// Walks a parsed document against the schema, filling a scenario and collecting errors.
class validator final : public rule_context {
 public:
  validator(const toml::table& root, const std::string& file, const override_origins& origins,
            std::vector<scenario_error>& errors)
      : root_(root), file_(file), origins_(origins), errors_(errors) {}

  scenario run() {
    check_table(root_, "");
    scenario s;
    for (const key_spec& k : schema_keys())
      if (!read_key(k, s)) bad_.push_back(k.name);
    // Derived defaults: an unset key that applies takes another key's value.
    for (const key_spec& k : schema_keys()) {
      if (k.default_from.empty() || present(k.name) || !k.applies(s)) continue;
      k.set(s, find_key(k.default_from)->get(s));
    }
    // A key set where it does not apply is almost always a mistake in the file. A knob that is
    // itself invalid, or whose condition could not be read, gets no second error.
    for (const key_spec& k : schema_keys()) {
      if (k.applies_when.empty() || !present(k.name) || !ok(k.name)) continue;
      const bool conditions_read = std::all_of(k.applies_when.begin(), k.applies_when.end(),
                                               [&](const clause& c) { return ok(c.key); });
      if (!conditions_read) continue;
      if (const clause* c = k.failed_clause(s)) {
        const key_spec& other = *find_key(c->key);
        std::string message = std::string(c->equal ? "only applies to " : "does not apply to ") +
                              std::string(c->key) + " = " + quote(c->value);
        if (c->equal)
          message +=
              " (" + std::string(other.leaf()) + " is " + toml_text(other, other.get(s)) + ")";
        error_at(std::string(k.name), *find(k.name), std::move(message));
      }
    }
    current_ = &s;
    for (const scenario_constraint& rule : scenario_constraints()) rule.check(s, *this);
    current_ = nullptr;
    return s;
  }

  // --- rule_context: what the cross-key rules ask ---

  bool present(std::string_view key) const override { return find(key) != nullptr; }

  bool ok(std::string_view key) const override {
    return std::find(bad_.begin(), bad_.end(), key) == bad_.end();
  }

  void fail(std::string_view key, std::string message, std::string_view at,
            std::optional<std::string> value) override {
    const toml::node* where = find(at.empty() ? key : at);
    std::string text;
    if (value) {
      text = std::move(*value);
    } else if (const toml::node* n = find(key)) {
      text = value_text(*n);
    } else if (const key_spec* spec = find_key(key); spec != nullptr && current_ != nullptr) {
      text = toml_text(*spec, spec->get(*current_));
    }
    error(std::string(key), where != nullptr ? &where->source() : nullptr, std::move(text),
          std::move(message));
  }

 private:
  void error(std::string key, const toml::source_region* where, std::string value,
             std::string message) {
    scenario_error e;
    e.file = file_;
    if (const std::string* origin = origin_of(key)) {
      message += " (from --set '" + *origin + "')";
    } else if (where != nullptr && where->begin.line > 0) {
      e.line = static_cast<int>(where->begin.line);
      e.column = static_cast<int>(where->begin.column);
    }
    e.key = std::move(key);
    e.value = std::move(value);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  void error_at(const std::string& key, const toml::node& n, std::string message) {
    error(key, &n.source(), value_text(n), std::move(message));
  }

  const std::string* origin_of(std::string_view key) const {
    for (const auto& [k, text] : origins_) {
      if (key == k ||
          (key.size() > k.size() && key.substr(0, k.size()) == k && key[k.size()] == '['))
        return &text;
    }
    return nullptr;
  }

  // --- structure: unknown keys and tables, tables where values belong and vice versa ---

  void check_table(const toml::table& table, const std::string& prefix) {
    for (auto&& [k, v] : table) {
      const std::string name(k.str());
      const std::string full = prefix.empty() ? name : prefix + "." + name;
      // A quoted key such as "train.rounds" is one key with a dot in it, never a path.
      const bool plain = !name.empty() && name.find('.') == std::string::npos;
      if (plain && is_known_table(full)) {
        if (const toml::table* sub = v.as_table()) {
          check_table(*sub, full);
        } else {
          error_at(full, v,
                   "expected a table [" + full + "], got " + got(v) +
                       "; keys allowed in it: " + allowed_children(full));
        }
      } else if (!(plain && is_known_key(full))) {
        unknown(k, v, name, full, prefix);
      }
    }
  }

  void unknown(const toml::key& k, const toml::node& v, const std::string& name,
               const std::string& full, const std::string& prefix) {
    std::string message = v.is_table() ? "unknown table [" + full + "]" : "unknown key";
    const std::vector<std::string_view> siblings = children_of(prefix);
    if (std::string_view near = nearest(name, siblings); !near.empty()) {
      message += "; did you mean '" + std::string(near) + "'?";
    } else {
      // Right name, wrong table: e.g. rounds = 3 written at the top level.
      for (const key_spec& spec : schema_keys()) {
        const std::string_view known = spec.name;
        if (leaf_of(known) == name || edit_distance(known, full) < 3) {
          message += "; did you mean '" + std::string(known) + "' (in [" +
                     std::string(parent_of(known)) + "])?";
          break;
        }
      }
    }
    message += "; allowed " + table_label(prefix) + ": " + allowed_children(prefix);
    const toml::source_region& where = k.source().begin.line > 0 ? k.source() : v.source();
    error(full, &where, value_text(v), std::move(message));
  }

  // --- values ---

  /// The node at a dotted path, or null if absent (or a parent is not a table: reported above).
  const toml::node* find(std::string_view dotted) const {
    const toml::table* table = &root_;
    const std::vector<std::string> parts = split_dotted(dotted);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      const toml::node* n = table->get(parts[i]);
      table = n != nullptr ? n->as_table() : nullptr;
      if (table == nullptr) return nullptr;
    }
    return table->get(parts.back());
  }

  /// Reads an integer in [lo, hi]; returns false only if present and bad.
  bool read_int(const std::string& key, int64_t& out, int64_t lo, int64_t hi) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
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
  bool read_float(const std::string& key, double& out, const number_range& range) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
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
                                              std::string_view what) {
    const auto* s = n.as_string();
    if (s == nullptr)
      error_at(key, n, "expected a string, got " + got(n) + "; must be " + std::string(what));
    return s;
  }

  bool read_string(const std::string& key, std::string& out) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
    const auto* s = string_node(key, *n, "a non-empty string");
    if (s == nullptr) return false;
    if (s->get().empty()) {
      error_at(key, *n, "must be a non-empty string");
      return false;
    }
    out = s->get();
    return true;
  }

  bool read_enum(const std::string& key, std::string& out,
                 const std::vector<std::string_view>& allowed) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
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

  bool read_rate(const std::string& key, double& out) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
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
  bool distribution_scalar(const toml::node& v, const std::string& k, bool time, double& x) {
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
  bool read_distribution(const std::string& key, distribution& out, bool time) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
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

  bool read_bool(const std::string& key, bool& out) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
    const auto* b = n->as_boolean();
    if (b == nullptr) {
      error_at(key, *n, "expected a boolean, got " + got(*n) + "; must be true or false");
      return false;
    }
    out = b->get();
    return true;
  }

  bool read_duration(const std::string& key, sim_time& out) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
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

  bool read_int_array(const std::string& key, std::vector<int>& out, int lo, int hi) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
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

  // --- one key, by its type ---

  /// Reads key `k` into `s`: absent leaves the default; false if present and bad.
  bool read_key(const key_spec& k, scenario& s) {
    const std::string key(k.name);
    key_value v = k.get(s);
    bool good = true;
    switch (k.type) {
      case value_type::integer:
        good = read_int(key, std::get<int64_t>(v), k.int_lo, k.int_hi);
        break;
      case value_type::number:
        good = read_float(key, std::get<double>(v), k.range);
        break;
      case value_type::boolean:
        good = read_bool(key, std::get<bool>(v));
        break;
      case value_type::string:
        good = read_string(key, std::get<std::string>(v));
        break;
      case value_type::choice:
        good = read_enum(key, std::get<std::string>(v), k.choices);
        break;
      case value_type::duration:
        good = read_duration(key, std::get<sim_time>(v));
        break;
      case value_type::rate:
        good = read_rate(key, std::get<double>(v));
        break;
      case value_type::duration_distribution:
      case value_type::number_distribution:
        good = read_distribution(key, std::get<distribution>(v),
                                 k.type == value_type::duration_distribution);
        break;
      case value_type::int_list:
        good = read_int_array(key, std::get<std::vector<int>>(v), static_cast<int>(k.int_lo),
                              static_cast<int>(k.int_hi));
        break;
    }
    if (good && present(key)) k.set(s, v);
    return good;
  }

  const toml::table& root_;
  const std::string& file_;
  const override_origins& origins_;
  std::vector<scenario_error>& errors_;
  std::vector<std::string_view> bad_;  ///< keys present but not read (their errors are out)
  const scenario* current_ = nullptr;  ///< while the cross-key rules run
};

scenario_error make_error(const std::string& file, std::string key, std::string value,
                          std::string message) {
  scenario_error e;
  e.file = file;
  e.key = std::move(key);
  e.value = std::move(value);
  e.message = std::move(message);
  return e;
}

/// Suggestion for an unknown override key: a near dotted key, or the same leaf elsewhere.
std::string suggest_key(std::string_view key) {
  std::vector<std::string_view> all;
  for (const key_spec& k : schema_keys()) all.push_back(k.name);
  if (std::string_view near = nearest(key, all); !near.empty())
    return "; did you mean '" + std::string(near) + "'?";
  for (std::string_view k : all)
    if (leaf_of(k) == leaf_of(key)) return "; did you mean '" + std::string(k) + "'?";
  return "";
}

/// Applies "dotted.key=value" overrides to `root`, recording where each key came from.
void apply_overrides(toml::table& root, const std::vector<std::string>& overrides,
                     const std::string& file, override_origins& origins,
                     std::vector<scenario_error>& errors) {
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    if (eq == std::string::npos) {
      errors.push_back(make_error(file, std::string(trim(o)), "",
                                  "--set '" + o +
                                      "' has no '='; write --set dotted.key=value, "
                                      "e.g. --set train.rounds=20"));
      continue;
    }
    const std::string key(trim(std::string_view(o).substr(0, eq)));
    const std::string text(trim(std::string_view(o).substr(eq + 1)));
    if (is_known_table(key)) {
      errors.push_back(make_error(file, key, text,
                                  "--set '" + o +
                                      "' names a table, not a value; set one of its "
                                      "keys: " +
                                      allowed_children(key)));
      continue;
    }
    if (!is_known_key(key)) {
      std::string message = "unknown key in --set '" + o + "'" + suggest_key(key);
      const std::string_view table = parent_of(key);
      message += is_known_table(table) || table.empty()
                     ? "; allowed " + table_label(table) + ": " + allowed_children(table)
                     : "; known tables: " + allowed_children("");
      errors.push_back(make_error(file, key, text, std::move(message)));
      continue;
    }

    // The value is TOML if it parses as exactly one value, else the raw text as a string, so
    // --set data.path=/tmp/x and --set clients.link.latency=20ms need no quotes.
    toml::table parsed;
    try {
      const std::string doc = "v = " + text;
      parsed = toml::parse(std::string_view(doc), "--set"sv);
    } catch (const toml::parse_error&) {
      parsed = toml::table{};
    }
    if (parsed.size() != 1 || !parsed.contains("v")) {
      parsed = toml::table{};
      parsed.insert("v", text);
    }

    const std::vector<std::string> parts = split_dotted(key);
    toml::table* table = &root;
    bool blocked = false;
    for (size_t i = 0; i + 1 < parts.size() && !blocked; ++i) {
      toml::node* n = table->get(parts[i]);
      if (n == nullptr) n = table->insert(parts[i], toml::table{}).first->second.as_table();
      table = n->as_table();
      blocked = table == nullptr;
    }
    if (blocked) {
      // The file's own error (a value where a table belongs) is reported by the validator.
      errors.push_back(make_error(file, key, text,
                                  "cannot apply --set '" + o +
                                      "': the file does not have a table "
                                      "on the way to this key"));
      continue;
    }
    // Copying drops toml++'s source region: the node's position in "v = ..." means nothing.
    table->insert_or_assign(parts.back(), *parsed.get("v"));
    origins[key] = o;
  }
}

}  // namespace

std::string scenario_error::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": ";
  if (!key.empty()) {
    out += key;
    if (!value.empty()) out += " = " + value;
    out += ": ";
  }
  return out + message;
}

load_result parse_scenario(std::string_view text, const std::string& file_name,
                           const std::vector<std::string>& overrides) {
  load_result result;
  try {
    toml::table root;
    try {
      root = toml::parse(text, std::string_view(file_name));
    } catch (const toml::parse_error& e) {
      scenario_error err =
          make_error(file_name, "", "", "malformed TOML: " + std::string(e.description()));
      err.line = static_cast<int>(e.source().begin.line);
      err.column = static_cast<int>(e.source().begin.column);
      result.errors.push_back(std::move(err));
      return result;
    }
    override_origins origins;
    apply_overrides(root, overrides, file_name, origins, result.errors);
    scenario s = validator(root, file_name, origins, result.errors).run();
    // File order first; errors with no position (overrides, defaults) last.
    std::stable_sort(result.errors.begin(), result.errors.end(),
                     [](const scenario_error& a, const scenario_error& b) {
                       const auto rank = [](const scenario_error& e) {
                         return std::make_tuple(e.line == 0, e.line, e.column);
                       };
                       return rank(a) < rank(b);
                     });
    if (result.errors.empty()) {
      s.source_file = file_name;
      result.value = std::move(s);
    }
  } catch (const std::exception& e) {
    // Nothing above should throw but allocation; the API promises values, not exceptions.
    result.value.reset();
    result.errors.push_back(
        make_error(file_name, "", "", std::string("internal error: ") + e.what()));
  }
  return result;
}

load_result load_scenario(const std::string& path, const std::vector<std::string>& overrides) {
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      load_result r;
      r.errors.push_back(make_error(
          path, "", "", "cannot read scenario file \"" + path + "\": it is a directory"));
      return r;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      load_result r;
      r.errors.push_back(make_error(
          path, "", "",
          "cannot open scenario file \"" + path + "\": " + std::generic_category().message(errno)));
      return r;
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) {
      load_result r;
      r.errors.push_back(make_error(path, "", "", "cannot read scenario file \"" + path + "\""));
      return r;
    }
    return parse_scenario(buffer.str(), path, overrides);
  } catch (const std::exception& e) {
    load_result r;
    r.errors.push_back(make_error(path, "", "", std::string("internal error: ") + e.what()));
    return r;
  }
}

std::string to_toml(const scenario& s) {
  std::ostringstream os;
  os << "# Fully resolved scenario: every key, defaults filled in.\n";
  std::string_view table;
  for (const key_spec& k : schema_keys()) {
    if (k.table() != table) {
      table = k.table();
      os << "\n[" << table << "]\n";
    }
    const key_value v = k.get(s);
    if (k.empty_is_unset && std::get<std::string>(v).empty()) {
      os << "# " << k.leaf() << " = \"\" (" << k.default_note << ")\n";
      continue;
    }
    // A key that does not apply is written as a comment: the loader would reject it.
    os << (k.applies(s) ? "" : "# ") << k.leaf() << " = " << toml_text(k, v) << "\n";
  }
  return os.str();
}

std::vector<std::string> known_keys() {
  std::vector<std::string> out;
  for (const key_spec& k : schema_keys()) out.emplace_back(k.name);
  return out;
}

}  // namespace baffle
