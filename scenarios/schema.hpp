// The scenario schema: one row per key (name, where it lives in `scenario`, type, unit, range or
// allowed values, when it applies, documentation) and a short list of named cross-key rules.
// Loading and validation, --set, the resolved scenario.toml, `baffle schema` and the key tables of
// docs/scenarios.md are all generated from these two lists; defaults are the `scenario` struct's.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "scenarios/scenario.hpp"

namespace baffle {

/// What a key's value is, as written in a file.
enum class value_type {
  integer,                ///< TOML integer
  number,                 ///< TOML float (integers accepted)
  boolean,                ///< true | false
  string,                 ///< non-empty string
  choice,                 ///< one of an enum's names
  duration,               ///< "50ms", "1.5s", ...
  rate,                   ///< "1Mbps", "20MBps", "0"
  duration_distribution,  ///< a duration, or {dist = ..., ...} of durations
  number_distribution,    ///< a number, or {dist = ..., ...}
  int_list,               ///< [1, 2, 3]
};

template <>
struct enum_names<value_type> {
  static constexpr std::array<std::pair<value_type, std::string_view>, 10> table = {{
      {value_type::integer, "integer"},
      {value_type::number, "number"},
      {value_type::boolean, "boolean"},
      {value_type::string, "string"},
      {value_type::choice, "choice"},
      {value_type::duration, "duration"},
      {value_type::rate, "rate"},
      {value_type::duration_distribution, "duration-distribution"},
      {value_type::number_distribution, "number-distribution"},
      {value_type::int_list, "integer-list"},
  }};
};

/// A key's value between the file and the struct: integer -> int64_t, number and rate -> double
/// (bytes per second), boolean -> bool, string and choice -> std::string (the name), duration ->
/// sim_time, distributions -> distribution, int_list -> std::vector<int>.
using key_value =
    std::variant<int64_t, double, bool, std::string, sim_time, distribution, std::vector<int>>;

/// An allowed interval of numbers, e.g. [0, 1) or > 0.
struct number_range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
  bool hi_open = false;

  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  /// "> 0", ">= 1", "in [0, 1)".
  std::string text() const;
};

/// ">= 1" or "in [1, 100000]": an upper bound at a type's limit is not worth mentioning.
std::string int_range_text(int64_t lo, int64_t hi);

/// One condition of applicability: `key` (a choice) equals, or differs from, `value`.
struct clause {
  std::string_view key;
  std::string value;
  bool equal = true;
};

/// One scenario key.
struct key_spec {
  std::string_view name;  ///< dotted: "clients.link.latency"
  value_type type = value_type::integer;
  std::string_view unit;  ///< what the number means: "s", "bytes/s", "GFLOP/s"; "" if none
  std::string_view doc;   ///< what it does (markdown)
  int64_t int_lo = std::numeric_limits<int64_t>::min();  ///< integer, int_list elements
  int64_t int_hi = std::numeric_limits<int64_t>::max();
  number_range range;                     ///< number
  std::vector<std::string_view> choices;  ///< choice: the names, in table order
  std::vector<clause> applies_when;       ///< every clause must hold; empty = always
  std::string_view default_note;          ///< said after the default ("unlimited")
  std::string_view allowed_note;          ///< said after the allowed values (shapes, other limits)
  std::string_view default_from;          ///< unset and applicable: takes this key's value
  bool empty_is_unset = false;            ///< string: "" means "not set" (written commented out)
  std::function<key_value(const scenario&)> get;
  std::function<void(scenario&, const key_value&)> set;

  /// "integer >= 1", "number in (0, 1000]", "\"sync\", \"deadline\"", ...
  std::string allowed_text() const;
  /// Whether the key means anything in `s` (every applies_when clause holds).
  bool applies(const scenario& s) const;
  /// The first clause that does not hold in `s`, or null.
  const clause* failed_clause(const scenario& s) const;
  /// The table it lives in: "" (top level), "clients.link", ...
  std::string_view table() const;
  std::string_view leaf() const;
};

/// Every key, in the order files, docs and the resolved scenario.toml present them.
const std::vector<key_spec>& schema_keys();
/// The key named `dotted`, or null.
const key_spec* find_key(std::string_view dotted);
/// Every table ("data", "clients.link", ...), parents before children, in key order.
const std::vector<std::string_view>& schema_tables();
/// The prose that follows a table's key table in docs/scenarios.md ("" if none).
std::string_view table_note(std::string_view table);

/// What a cross-key rule may ask of the loader that runs it.
class rule_context {
 public:
  virtual ~rule_context() = default;
  /// The key was written (in the file or with --set).
  virtual bool present(std::string_view key) const = 0;
  /// The key is absent or was read without error (its value in the scenario is meaningful).
  virtual bool ok(std::string_view key) const = 0;
  /// Reports an error about `key`, placed at key `at` (default: `key` itself) when that was
  /// written; `value` replaces the value text shown (default: as written, or the value in use).
  virtual void fail(std::string_view key, std::string message, std::string_view at = {},
                    std::optional<std::string> value = std::nullopt) = 0;
};

/// A rule between keys that a table row cannot express.
struct scenario_constraint {
  std::string_view name;  ///< e.g. "per_round_within_count"
  std::string_view doc;   ///< one line, for docs and `baffle schema --json`
  void (*check)(const scenario& s, rule_context& ctx);
};

/// Every cross-key rule, in the order they are checked (scenarios/constraints.cpp).
const std::vector<scenario_constraint>& scenario_constraints();

/// A key's value as TOML text: 10, 0.5, "sync", "50ms", { dist = "uniform", ... }, [16, 64].
std::string toml_text(const key_spec& k, const key_value& v);

/// The key tables of docs/scenarios.md (`baffle schema --markdown`).
std::string schema_markdown();
/// The whole schema as JSON (`baffle schema --json`): every key with its type, unit, default,
/// allowed values or range, applicability and documentation, and the cross-key rules.
std::string schema_json();

}  // namespace baffle
