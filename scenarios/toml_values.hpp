// Reading one scenario value from its TOML node, by the key's type (scenarios/schema.hpp), with
// the error messages users see: what was expected, what was found, what is allowed. The loader
// (scenarios/loader.cpp) finds the nodes and decides what applies; this file only reads values.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "scenarios/schema.hpp"

namespace baffle::loader_detail {

/// The value as TOML text on one line, elided if long; empty for tables (they span lines).
std::string value_text(const toml::node& n);
/// "string \"abc\"", "a table", "array [1, 2]" for "expected X, got ..." messages.
std::string got(const toml::node& n);
/// Optimal string alignment distance (edits, adjacent swaps as one), capped at 3.
size_t edit_distance(std::string_view a, std::string_view b);
/// The closest candidate within two edits, or empty.
std::string_view nearest(std::string_view word, const std::vector<std::string_view>& candidates);

/// Reads nodes into key values, reporting each problem (key, the node it is about, message).
class value_reader {
 public:
  using report = std::function<void(const std::string& key, const toml::node& at, std::string)>;
  explicit value_reader(report r) : report_(std::move(r)) {}

  /// Reads `node`, written for key `k`, into `v` (which holds k's current value); false after
  /// reporting if it is not a valid value of k's type and range.
  bool read(const key_spec& k, const toml::node& node, key_value& v) const;

 private:
  report report_;
};

}  // namespace baffle::loader_detail
