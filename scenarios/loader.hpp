// Scenario loader and validator: TOML text (plus --set overrides) in, a typed `scenario` or a list
// of errors out. Every error names the file, line, key, bad value and what is allowed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/scenario.hpp"

namespace baffle {

/// One problem found in a scenario file or override.
struct scenario_error {
  std::string file;
  int line = 0;         ///< 1-based; 0 = unknown (e.g. from --set)
  int column = 0;       ///< 1-based; 0 = unknown
  std::string key;      ///< dotted, e.g. "train.rounds"
  std::string value;    ///< the bad value as written (TOML syntax), may be empty
  std::string message;  ///< what is wrong and what is allowed
  /// "quick.toml:12:1: train.rounds = -3: must be an integer >= 1"
  std::string to_string() const;
};

/// A scenario, or every error that stopped it.
struct load_result {
  std::optional<scenario> value;
  std::vector<scenario_error> errors;
  bool ok() const { return value.has_value() && errors.empty(); }
};

/// Reads and validates a scenario file; overrides are "dotted.key=value" strings from --set,
/// applied before validation.
load_result load_scenario(const std::string& path, const std::vector<std::string>& overrides = {});

/// Same, from text (file_name is used in messages).
load_result parse_scenario(std::string_view text, const std::string& file_name,
                           const std::vector<std::string>& overrides = {});

/// The fully resolved scenario (every key, defaults filled in) as TOML text that parse_scenario
/// reads back to an equal scenario.
std::string to_toml(const scenario& s);

/// Every dotted key the loader knows (for docs and tests).
std::vector<std::string> known_keys();

}  // namespace baffle
