// Scenario loader and validator: parses TOML with toml++ (this is the only file that includes it),
// applies --set overrides, checks every key against the schema and collects all errors at once.
// The schema lives in two places kept side by side below: `schema_keys` and `validator::read_all`.
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

#include "scenarios/units.hpp"

namespace baffle {
namespace {

using namespace std::string_view_literals;

/// Every leaf key, in the order docs and to_toml present them.
constexpr std::array schema_keys = {
    "name"sv,
    "seed"sv,
    "data.dataset"sv,
    "data.path"sv,
    "data.train_subset"sv,
    "data.test_subset"sv,
    "data.validation_fraction"sv,
    "data.image_size"sv,
    "data.partition"sv,
    "data.dirichlet_alpha"sv,
    "data.shards_per_client"sv,
    "data.synthetic"sv,
    "data.synthetic_train"sv,
    "data.synthetic_test"sv,
    "data.synthetic_noise"sv,
    "model.arch"sv,
    "model.hidden"sv,
    "model.channels"sv,
    "model.activation"sv,
    "model.norm"sv,
    "model.groups"sv,
    "model.depth"sv,
    "model.width"sv,
    "train.algorithm"sv,
    "train.local_epochs"sv,
    "train.local_lr"sv,
    "train.rounds"sv,
    "train.batch_size"sv,
    "train.optimizer"sv,
    "train.lr"sv,
    "train.momentum"sv,
    "train.beta1"sv,
    "train.beta2"sv,
    "train.adam_eps"sv,
    "train.weight_decay"sv,
    "train.eval_every"sv,
    "train.nesterov"sv,
    "train.milestones"sv,
    "train.gamma"sv,
    "train.warmup_rounds"sv,
    "train.warmup_lr"sv,
    "train.clip_inf"sv,
    "train.ema_decay"sv,
    "baffle.k"sv,
    "baffle.sigma"sv,
    "baffle.scheme"sv,
    "baffle.seeds"sv,
    "baffle.download"sv,
    "clients.count"sv,
    "clients.per_round"sv,
    "clients.dropout"sv,
    "clients.availability.trace"sv,
    "clients.link.latency"sv,
    "clients.link.up"sv,
    "clients.link.down"sv,
    "clients.compute.gflops"sv,
    "clients.compute.spread"sv,
    "clients.compute.stragglers"sv,
    "clients.compute.straggler_slowdown"sv,
    "clients.compute.jitter"sv,
    "server.policy"sv,
    "server.deadline"sv,
    "server.over_select"sv,
    "server.concurrency"sv,
    "server.buffer"sv,
    "server.staleness"sv,
    "server.staleness_exponent"sv,
    "server.staleness_hinge"sv,
    "server.max_staleness"sv,
    "run.checkpoint_every"sv,
};

/// Every table, parents before children.
constexpr std::array schema_tables = {
    "data"sv, "model"sv, "train"sv, "baffle"sv, "clients"sv, "clients.link"sv, "clients.compute"sv, "clients.availability"sv,
    "server"sv,
    "run"sv,
};

constexpr size_t max_value_text = 80;  // longer values are elided in messages

bool is_known_key(std::string_view k) {
  return std::find(schema_keys.begin(), schema_keys.end(), k) != schema_keys.end();
}

bool is_known_table(std::string_view k) {
  return std::find(schema_tables.begin(), schema_tables.end(), k) != schema_tables.end();
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
  for (std::string_view k : schema_keys)
    if (parent_of(k) == table) out.push_back(leaf_of(k));
  for (std::string_view t : schema_tables)
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

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

/// Shortest decimal that reads back to the same double.
std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

/// A TOML basic string literal for `s`.
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

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
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

/// An allowed float range, e.g. [0, 1) or > 0.
struct float_range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;

  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  std::string text() const {
    if (std::isinf(hi)) return (lo_open ? "> " : ">= ") + format_double(lo);
    return "in " + std::string(lo_open ? "(" : "[") + format_double(lo) + ", " + format_double(hi) +
           (hi_open ? ")" : "]");
  }
};

constexpr float_range positive{0.0, std::numeric_limits<double>::infinity(), true, false};
constexpr float_range non_negative{0.0, std::numeric_limits<double>::infinity(), false, false};
constexpr float_range unit_open{0.0, 1.0, false, true};
// Finite but absurd values (1e308) would load and then overflow to inf/NaN mid-run: every
// unbounded knob gets a maximum far beyond any sensible setting.
constexpr float_range rate{0.0, 1e3, true, false};          // learning rates, decay factors
constexpr float_range sigma_range{0.0, 100.0, true, false};  // perturbation scale
constexpr float_range speed{0.0, 1e9, true, false};          // GFLOP/s (1e9: an exaflop device)

/// "must be an integer >= 1" or "in [1, 100000]"; type limits are not worth mentioning unless hit.
std::string int_allowed(int64_t lo, int64_t hi) {
  if (hi == std::numeric_limits<int>::max() || hi == std::numeric_limits<int64_t>::max())
    return ">= " + std::to_string(lo);
  return "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

/// The largest value of Int that TOML's int64 can also hold (uint64_t stops at INT64_MAX).
template <class Int>
constexpr int64_t largest() {
  return static_cast<uint64_t>(std::numeric_limits<Int>::max()) >
                 static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(std::numeric_limits<Int>::max());
}

/// --set overrides by key, so errors about their values can say where they came from.
using override_origins = std::map<std::string, std::string, std::less<>>;

/// Walks a parsed document against the schema, filling a scenario and collecting errors.
class validator {
 public:
  validator(const toml::table& root, const std::string& file, const override_origins& origins,
            std::vector<scenario_error>& errors)
      : root_(root), file_(file), origins_(origins), errors_(errors) {}

  scenario run() {
    check_table(root_, "");
    scenario s;
    read_all(s);
    return s;
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
      for (std::string_view known : schema_keys) {
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
  template <class Int>
  bool read_int(const std::string& key, Int& out, int64_t lo, int64_t hi = largest<Int>()) {
    const toml::node* n = find(key);
    if (n == nullptr) return true;
    const std::string allowed = int_allowed(lo, hi);
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
    out = static_cast<Int>(v);
    return true;
  }

  /// Reads a finite number (integers accepted) within `range`.
  bool read_float(const std::string& key, double& out, const float_range& range) {
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
                 std::initializer_list<std::string_view> allowed) {
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
    const std::string_view near = nearest(lower(v), std::vector<std::string_view>(allowed));
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
    static const std::map<std::string, std::vector<std::string>, std::less<>> fields = {
        {"constant", {"value"}},
        {"uniform", {"min", "max"}},
        {"normal", {"mean", "stddev"}},
        {"lognormal", {"median", "sigma"}}};
    if (name == nullptr || fields.count(name->get()) == 0) {
      error_at(key + ".dist", dist != nullptr ? *dist : *n,
               "must be one of \"constant\", \"uniform\", \"normal\", \"lognormal\"; " + key +
                   " must be " + shapes);
      return false;
    }
    const auto& wanted = fields.find(name->get())->second;
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
    distribution d;
    const std::string& kind = name->get();
    if (kind == "constant") d = distribution::constant(p[0]);
    if (kind == "uniform") d = distribution::uniform(p[0], p[1]);
    if (kind == "normal") d = distribution::normal(p[0], p[1]);
    if (kind == "lognormal") d = distribution::lognormal(p[0], p[1]);
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

  // --- the schema ---

  void read_all(scenario& s) {
    read_string("name", s.name);
    read_int("seed", s.seed, 0);

    const bool path_ok = read_string("data.path", s.data.path);
    read_enum("data.dataset", s.data.dataset, {"fashion-mnist", "mnist", "cifar10", "synthetic"});
    read_int("data.train_subset", s.data.train_subset, 0);
    read_int("data.test_subset", s.data.test_subset, 0);
    read_float("data.validation_fraction", s.data.validation_fraction, {0.0, 0.5, false, false});
    // Synthetic data needs no files.
    if (path_ok && s.data.dataset != "synthetic") check_data_path(s.data.path);
    read_enum("data.partition", s.data.partition, {"iid", "dirichlet", "shards", "quantity"});
    read_float("data.dirichlet_alpha", s.data.dirichlet_alpha, positive);
    read_int("data.shards_per_client", s.data.shards_per_client, 1, 10000);
    read_enum("data.synthetic", s.data.synthetic, {"teacher", "mixture"});
    read_int("data.synthetic_train", s.data.synthetic_train, 1, 4294967295LL);
    read_int("data.synthetic_test", s.data.synthetic_test, 1, 4294967295LL);
    read_float("data.synthetic_noise", s.data.synthetic_noise, non_negative);
    if (s.data.synthetic == "teacher" && s.data.synthetic_noise > 1.0) {
      if (const toml::node* n = find("data.synthetic_noise"))
        error_at("data.synthetic_noise", *n, "is a label-flip probability for the teacher: must be in [0, 1]");
    }

    read_int("data.image_size", s.data.image_size, 0, 1024);
    read_enum("model.arch", s.model.arch, {"mlp", "lenet", "wrn"});
    read_int("model.depth", s.model.depth, 10, 1000);
    read_int("model.width", s.model.width, 1, 64);
    if ((s.model.depth - 4) % 6 != 0) {
      if (const toml::node* n = find("model.depth"))
        error_at("model.depth", *n, "must be 6n + 4 (10, 16, 22, 28, ...) for a wide ResNet");
    }
    if (s.model.arch == "wrn") {
      if (const toml::node* n = find("model.norm"); n != nullptr && s.model.norm != "group")
        error_at("model.norm", *n, "the wrn always uses GroupNorm, as the reference; use \"group\" or leave it out");
    }
    read_int_array("model.hidden", s.model.hidden, 1, 65536);
    const bool channels_ok = read_int_array("model.channels", s.model.channels, 1, 4096);
    read_enum("model.activation", s.model.activation, {"relu", "hardswish", "selu", "gelu"});
    read_enum("model.norm", s.model.norm, {"none", "group"});
    const bool groups_ok = read_int("model.groups", s.model.groups, 0, 4096);
    if (channels_ok && s.model.channels.size() != 2) {
      if (const toml::node* n = find("model.channels"))
        error_at("model.channels", *n, "must list exactly two channel counts, e.g. [16, 64] (conv1, conv2)");
    }
    if (s.model.arch == "mlp" && s.model.activation != "relu") {
      if (const toml::node* n = find("model.activation"))
        error_at("model.activation", *n, "the mlp uses \"relu\"; other activations need model.arch = \"lenet\"");
    }
    const int lenet_groups = s.model.groups > 0 ? s.model.groups : 2;
    if (s.model.arch == "lenet" && s.model.norm == "group" && channels_ok && groups_ok &&
        s.model.channels.size() == 2 &&
        (s.model.channels[0] % lenet_groups != 0 || s.model.channels[1] % lenet_groups != 0)) {
      const toml::node* n = find("model.groups");
      error("model.groups", n != nullptr ? &n->source() : nullptr, std::to_string(lenet_groups),
            "must divide both model.channels (" + std::to_string(s.model.channels[0]) + ", " +
                std::to_string(s.model.channels[1]) + ") for GroupNorm");
    }

    read_enum("train.algorithm", s.train.algorithm, {"baffle", "fedsgd", "fedavg"});
    const bool epochs_ok = read_int("train.local_epochs", s.train.local_epochs, 1, 1000);
    const bool local_lr_ok = read_float("train.local_lr", s.train.local_lr, rate);
    if (s.train.algorithm != "fedavg") {
      for (const char* k : {"train.local_epochs", "train.local_lr"}) {
        const bool ok = std::string_view(k) == "train.local_epochs" ? epochs_ok : local_lr_ok;
        if (const toml::node* n = find(k); n != nullptr && ok)
          error_at(k, *n, "only applies to train.algorithm = \"fedavg\" (algorithm is \"" +
                              s.train.algorithm + "\")");
      }
    }
    read_int("train.rounds", s.train.rounds, 1);
    read_int("train.batch_size", s.train.batch_size, 1);
    read_enum("train.optimizer", s.train.optimizer, {"adam", "sgd"});
    read_float("train.lr", s.train.lr, rate);
    read_float("train.momentum", s.train.momentum, unit_open);
    read_float("train.beta1", s.train.beta1, unit_open);
    read_float("train.beta2", s.train.beta2, unit_open);
    read_float("train.adam_eps", s.train.adam_eps, {0.0, 1.0, true, false});
    read_float("train.weight_decay", s.train.weight_decay, {0.0, 1e3, false, false});
    read_int("train.eval_every", s.train.eval_every, 1);
    read_bool("train.nesterov", s.train.nesterov);
    read_int_array("train.milestones", s.train.milestones, 1, std::numeric_limits<int>::max());
    read_float("train.gamma", s.train.gamma, rate);
    read_int("train.warmup_rounds", s.train.warmup_rounds, 0);
    read_float("train.warmup_lr", s.train.warmup_lr, {0.0, 1e3, false, false});
    read_float("train.clip_inf", s.train.clip_inf, non_negative);
    read_float("train.ema_decay", s.train.ema_decay, unit_open);
    if (s.train.nesterov && (s.train.optimizer != "sgd" || s.train.momentum <= 0.0)) {
      if (const toml::node* n = find("train.nesterov"))
        error_at("train.nesterov", *n,
                 "needs train.optimizer = \"sgd\" and train.momentum > 0 (Nesterov momentum)");
    }

    read_int("baffle.k", s.baffle.k, 1, 100000);
    read_float("baffle.sigma", s.baffle.sigma, sigma_range);
    read_enum("baffle.scheme", s.baffle.scheme, {"forward", "central"});
    read_enum("baffle.seeds", s.baffle.seeds, {"shared", "per-client"});
    if (read_enum("baffle.download", s.baffle.download, {"weights", "replay", "auto"}) &&
        s.baffle.download != "weights" && s.train.algorithm != "baffle") {
      if (const toml::node* n = find("baffle.download"))
        error_at("baffle.download", *n,
                 "\"" + s.baffle.download +
                     "\" only applies to train.algorithm = \"baffle\" (the backprop baselines "
                     "always download the weights)");
    }

    const bool count_ok = read_int("clients.count", s.clients.count, 1);
    const bool per_round_ok = read_int("clients.per_round", s.clients.per_round, 1);
    if (count_ok && per_round_ok && s.clients.per_round > s.clients.count) check_per_round(s);
    read_float("clients.dropout", s.clients.dropout, unit_open);
    if (read_string("clients.availability.trace", s.clients.availability_trace) &&
        !s.clients.availability_trace.empty()) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(s.clients.availability_trace, ec)) {
        if (const toml::node* n = find("clients.availability.trace"))
          error_at("clients.availability.trace", *n,
                   "file not found; must name an availability trace (lines client,time,on|off; see "
                   "docs/scenarios.md); relative paths are taken from the working directory");
      }
    }
    read_distribution("clients.link.latency", s.clients.link.latency, true);
    read_rate("clients.link.up", s.clients.link.up_bytes_per_sec);
    read_rate("clients.link.down", s.clients.link.down_bytes_per_sec);
    read_float("clients.compute.gflops", s.clients.compute.gflops, speed);
    read_distribution("clients.compute.spread", s.clients.compute.spread, false);
    read_float("clients.compute.stragglers", s.clients.compute.stragglers, {0.0, 1.0, false, false});
    read_float("clients.compute.straggler_slowdown", s.clients.compute.straggler_slowdown,
               {1.0, 1e6, false, false});
    read_float("clients.compute.jitter", s.clients.compute.jitter, unit_open);

    read_enum("server.policy", s.server.policy, {"sync", "deadline", "first-m", "async"});
    // A knob that is itself invalid gets one error, not a second one about the policy.
    const bool deadline_ok = read_duration("server.deadline", s.server.deadline);
    const bool over_ok = read_float("server.over_select", s.server.over_select, {1.0, 100.0, false, false});
    // Knobs of one policy set under another are almost always a mistake in the file.
    if (!deadline_ok) {
    } else if (s.server.policy != "deadline") {
      if (const toml::node* n = find("server.deadline"))
        error_at("server.deadline", *n, "only applies to server.policy = \"deadline\" (policy is \"" +
                                            s.server.policy + "\")");
    } else if (s.server.deadline.ns <= 0) {
      if (const toml::node* n = find("server.deadline"))
        error_at("server.deadline", *n, "must be a positive duration for the deadline policy");
    }
    if (over_ok && s.server.policy != "first-m") {
      if (const toml::node* n = find("server.over_select"))
        error_at("server.over_select", *n, "only applies to server.policy = \"first-m\" (policy is \"" +
                                               s.server.policy + "\")");
    }
    const bool async = s.server.policy == "async";
    // Unless set, async keeps clients.per_round clients in flight, so switching a scenario's
    // policy to async needs no other change.
    if (async && find("server.concurrency") == nullptr) s.server.concurrency = s.clients.per_round;
    read_int("run.checkpoint_every", s.run.checkpoint_every, 0);
    const bool concurrency_ok = read_int("server.concurrency", s.server.concurrency, 1);
    const bool buffer_ok = read_int("server.buffer", s.server.buffer, 1);
    const bool staleness_ok =
        read_enum("server.staleness", s.server.staleness, {"constant", "poly", "hinge"});
    const bool exponent_ok = read_float("server.staleness_exponent", s.server.staleness_exponent,
                                        {0.0, 100.0, false, false});
    const bool hinge_ok = read_int("server.staleness_hinge", s.server.staleness_hinge, 0);
    const bool max_ok = read_int("server.max_staleness", s.server.max_staleness, 0);
    const std::pair<const char*, bool> async_keys[] = {
        {"server.concurrency", concurrency_ok}, {"server.buffer", buffer_ok},
        {"server.staleness", staleness_ok},     {"server.staleness_exponent", exponent_ok},
        {"server.staleness_hinge", hinge_ok},   {"server.max_staleness", max_ok}};
    for (const auto& [key, ok] : async_keys) {
      if (!ok || async) continue;
      if (const toml::node* n = find(key))
        error_at(key, *n, "only applies to server.policy = \"async\" (policy is \"" +
                              s.server.policy + "\")");
    }
    // Unset, concurrency is per_round, which is checked against count already.
    if (async && count_ok && concurrency_ok && s.server.concurrency > s.clients.count) {
      if (const toml::node* n = find("server.concurrency"))
        error_at("server.concurrency", *n,
                 "must be an integer in [1, clients.count], here [1, " +
                     std::to_string(s.clients.count) + "]: the clients in flight are distinct clients");
    }
    if (async && staleness_ok && hinge_ok && s.server.staleness != "hinge") {
      if (const toml::node* n = find("server.staleness_hinge"))
        error_at("server.staleness_hinge", *n,
                 "only applies to server.staleness = \"hinge\" (staleness is \"" +
                     s.server.staleness + "\")");
    }
    if (async && staleness_ok && exponent_ok && s.server.staleness == "constant") {
      if (const toml::node* n = find("server.staleness_exponent"))
        error_at("server.staleness_exponent", *n,
                 "does not apply to server.staleness = \"constant\" (every weight is 1)");
    }
  }

  /// per_round > count: point at per_round if written, else at count (the default per_round
  /// only becomes wrong because of count).
  void check_per_round(const scenario& s) {
    const std::string limit = "must be an integer in [1, clients.count], here [1, " +
                              std::to_string(s.clients.count) +
                              "]: a round samples per_round of "
                              "the count clients";
    if (const toml::node* n = find("clients.per_round")) {
      error_at("clients.per_round", *n, limit);
    } else {
      const toml::node* count = find("clients.count");
      error("clients.per_round", count != nullptr ? &count->source() : nullptr,
            std::to_string(s.clients.per_round),
            limit + " (per_round was not set and defaults to " +
                std::to_string(s.clients.per_round) + "; set it too)");
    }
  }

  void check_data_path(const std::string& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (std::filesystem::is_directory(status)) return;
    const std::string default_path = scenario{}.data.path;
    std::string message = std::filesystem::exists(status)
                              ? "\"" + path + "\" exists but is not a directory"
                              : "directory \"" + path + "\" not found";
    message +=
        "; data.path must be an existing directory holding the MNIST-format IDX files "
        "(relative paths are taken from the working directory); the default " +
        default_path + " is provided by the Debian package dataset-fashion-mnist";
    if (const toml::node* n = find("data.path")) {
      error_at("data.path", *n, std::move(message));
    } else {
      error("data.path", nullptr, quote(path),
            message + " (data.path was not set: this is the default)");
    }
  }

  const toml::table& root_;
  const std::string& file_;
  const override_origins& origins_;
  std::vector<scenario_error>& errors_;
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
  std::vector<std::string_view> all(schema_keys.begin(), schema_keys.end());
  if (std::string_view near = nearest(key, all); !near.empty())
    return "; did you mean '" + std::string(near) + "'?";
  for (std::string_view k : schema_keys)
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
      errors.push_back(make_error(file, trim(o), "",
                                  "--set '" + o +
                                      "' has no '='; write --set dotted.key=value, "
                                      "e.g. --set train.rounds=20"));
      continue;
    }
    const std::string key = trim(std::string_view(o).substr(0, eq));
    const std::string text = trim(std::string_view(o).substr(eq + 1));
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

namespace {
std::string toml_float(double x) {
  std::string t = format_double(x);
  if (t.find_first_of(".eni") == std::string::npos) t += ".0";
  return t;
}

/// A distribution as scenario files write it (time-valued ones in durations, sigma plain).
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
}  // namespace

std::string to_toml(const scenario& s) {
  // Floats always carry a '.' or exponent so they read back as floats, exactly (shortest
  // round-trip form from std::to_chars).
  const auto num = [](double v) {
    std::string t = format_double(v);
    if (t.find_first_of(".eni") == std::string::npos) t += ".0";
    return t;
  };
  std::ostringstream os;
  os << "# Fully resolved scenario: every key, defaults filled in.\n";
  os << "name = " << quote(s.name) << "\n";
  os << "seed = " << s.seed << "\n";
  os << "\n[data]\n";
  os << "dataset = " << quote(s.data.dataset) << "\n";
  os << "path = " << quote(s.data.path) << "\n";
  os << "train_subset = " << s.data.train_subset << "\n";
  os << "test_subset = " << s.data.test_subset << "\n";
  os << "validation_fraction = " << num(s.data.validation_fraction) << "\n";
  os << "image_size = " << s.data.image_size << "\n";
  os << "partition = " << quote(s.data.partition) << "\n";
  os << "dirichlet_alpha = " << num(s.data.dirichlet_alpha) << "\n";
  os << "shards_per_client = " << s.data.shards_per_client << "\n";
  os << "synthetic = " << quote(s.data.synthetic) << "\n";
  os << "synthetic_train = " << s.data.synthetic_train << "\n";
  os << "synthetic_test = " << s.data.synthetic_test << "\n";
  os << "synthetic_noise = " << num(s.data.synthetic_noise) << "\n";
  os << "\n[model]\n";
  os << "arch = " << quote(s.model.arch) << "\n";
  os << "hidden = [";
  for (size_t i = 0; i < s.model.hidden.size(); ++i) os << (i ? ", " : "") << s.model.hidden[i];
  os << "]\n";
  os << "channels = [";
  for (size_t i = 0; i < s.model.channels.size(); ++i) os << (i ? ", " : "") << s.model.channels[i];
  os << "]\n";
  os << "activation = " << quote(s.model.activation) << "\n";
  os << "norm = " << quote(s.model.norm) << "\n";
  os << "groups = " << s.model.groups << "\n";
  os << "depth = " << s.model.depth << "\n";
  os << "width = " << s.model.width << "\n";
  os << "\n[train]\n";
  os << "algorithm = " << quote(s.train.algorithm) << "\n";
  os << (s.train.algorithm == "fedavg" ? "" : "# ") << "local_epochs = " << s.train.local_epochs << "\n";
  os << (s.train.algorithm == "fedavg" ? "" : "# ") << "local_lr = " << num(s.train.local_lr) << "\n";
  os << "rounds = " << s.train.rounds << "\n";
  os << "batch_size = " << s.train.batch_size << "\n";
  os << "optimizer = " << quote(s.train.optimizer) << "\n";
  os << "lr = " << num(s.train.lr) << "\n";
  os << "momentum = " << num(s.train.momentum) << "\n";
  os << "beta1 = " << num(s.train.beta1) << "\n";
  os << "beta2 = " << num(s.train.beta2) << "\n";
  os << "adam_eps = " << num(s.train.adam_eps) << "\n";
  os << "weight_decay = " << num(s.train.weight_decay) << "\n";
  os << "eval_every = " << s.train.eval_every << "\n";
  os << "nesterov = " << (s.train.nesterov ? "true" : "false") << "\n";
  os << "milestones = [";
  for (size_t i = 0; i < s.train.milestones.size(); ++i) os << (i ? ", " : "") << s.train.milestones[i];
  os << "]\n";
  os << "gamma = " << num(s.train.gamma) << "\n";
  os << "warmup_rounds = " << s.train.warmup_rounds << "\n";
  os << "warmup_lr = " << num(s.train.warmup_lr) << "\n";
  os << "clip_inf = " << num(s.train.clip_inf) << "\n";
  os << "ema_decay = " << num(s.train.ema_decay) << "\n";
  os << "\n[baffle]\n";
  os << "k = " << s.baffle.k << "\n";
  os << "sigma = " << num(s.baffle.sigma) << "\n";
  os << "scheme = " << quote(s.baffle.scheme) << "\n";
  os << "seeds = " << quote(s.baffle.seeds) << "\n";
  os << "download = " << quote(s.baffle.download) << "\n";
  os << "\n[clients]\n";
  os << "count = " << s.clients.count << "\n";
  os << "per_round = " << s.clients.per_round << "\n";
  os << "dropout = " << num(s.clients.dropout) << "\n";
  os << "\n[clients.availability]\n";
  if (s.clients.availability_trace.empty()) {
    os << "# trace = \"\" (no trace: every client always available)\n";
  } else {
    os << "trace = " << quote(s.clients.availability_trace) << "\n";
  }
  os << "\n[clients.link]\n";
  os << "latency = " << distribution_toml(s.clients.link.latency, true) << "\n";
  os << "up = " << quote(format_rate(s.clients.link.up_bytes_per_sec)) << "\n";
  os << "down = " << quote(format_rate(s.clients.link.down_bytes_per_sec)) << "\n";
  os << "\n[clients.compute]\n";
  os << "gflops = " << num(s.clients.compute.gflops) << "\n";
  os << "spread = " << distribution_toml(s.clients.compute.spread, false) << "\n";
  os << "stragglers = " << num(s.clients.compute.stragglers) << "\n";
  os << "straggler_slowdown = " << num(s.clients.compute.straggler_slowdown) << "\n";
  os << "jitter = " << num(s.clients.compute.jitter) << "\n";
  os << "\n[server]\n";
  os << "policy = " << quote(s.server.policy) << "\n";
  // Another policy's knobs are written as comments: the loader rejects them under this policy.
  os << (s.server.policy == "deadline" ? "" : "# ") << "deadline = "
     << quote(format_duration(s.server.deadline)) << "\n";
  os << (s.server.policy == "first-m" ? "" : "# ") << "over_select = " << num(s.server.over_select)
     << "\n";
  const std::string async = s.server.policy == "async" ? "" : "# ";
  os << async << "concurrency = " << s.server.concurrency << "\n";
  os << async << "buffer = " << s.server.buffer << "\n";
  os << async << "staleness = " << quote(s.server.staleness) << "\n";
  os << (s.server.policy == "async" && s.server.staleness != "constant" ? "" : "# ")
     << "staleness_exponent = " << num(s.server.staleness_exponent) << "\n";
  os << (s.server.policy == "async" && s.server.staleness == "hinge" ? "" : "# ")
     << "staleness_hinge = " << s.server.staleness_hinge << "\n";
  os << async << "max_staleness = " << s.server.max_staleness << "\n";
  os << "\n[run]\n";
  os << "checkpoint_every = " << s.run.checkpoint_every << "\n";
  return os.str();
}

std::vector<std::string> known_keys() {
  return {schema_keys.begin(), schema_keys.end()};
}

}  // namespace baffle
