// `baffle schema`: the key tables of docs/scenarios.md and the schema as JSON, both printed from
// the table in scenarios/schema.cpp, so the reference cannot drift from the loader.
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "scenarios/schema.hpp"
#include "scenarios/toml_text.hpp"

namespace baffle {
namespace {

/// "`policy = \"deadline\"`", or the full key when the clause names another table.
std::string clause_text(const key_spec& k, const clause& c) {
  const std::string_view name = find_key(c.key) != nullptr && find_key(c.key)->table() == k.table()
                                    ? find_key(c.key)->leaf()
                                    : c.key;
  // Built by appending: g++ 12 warns falsely (-Wrestrict) on "`" + s + ... chains.
  std::string out = "`";
  out += name;
  out += c.equal ? " = " : "` other than `";
  out += quote(c.value);
  out += "`";
  return out;
}

std::string default_cell(const key_spec& k) {
  const scenario defaults;
  const key_value v = k.get(defaults);
  std::string out;
  if (k.empty_is_unset && std::get<std::string>(v).empty()) {
    out = "none";
  } else {
    out = "`";
    out += k.default_from.empty() ? toml_text(k, v) : std::string(k.default_from);
    out += "`";
  }
  if (!k.default_note.empty()) {
    out += " (";
    out += k.default_note;
    out += ")";
  }
  return out;
}

std::string allowed_cell(const key_spec& k) {
  std::string out;
  if (k.type == value_type::choice) {
    for (std::string_view c : k.choices) out += (out.empty() ? "`" : ", `") + quote(c) + "`";
  } else {
    out = k.allowed_text();
  }
  const bool numeric = k.type == value_type::integer || k.type == value_type::number;
  if (numeric && !k.unit.empty()) out += ", in " + std::string(k.unit);
  if (!k.allowed_note.empty()) out += "; " + std::string(k.allowed_note);
  if (!k.applies_when.empty()) {
    out += "; only with ";
    for (size_t i = 0; i < k.applies_when.size(); ++i)
      out += (i ? " and " : "") + clause_text(k, k.applies_when[i]);
  }
  return out;
}

std::string heading(std::string_view table) {
  if (table.empty()) return "## Top level";
  return (table.find('.') == std::string_view::npos ? "## [" : "### [") + std::string(table) + "]";
}

/// A number for JSON: finite values as numbers, infinities left out by the caller.
nlohmann::json bound(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

}  // namespace

std::string schema_markdown() {
  std::ostringstream os;
  std::string_view table = "\x01";  // no table yet
  const auto close = [&](std::string_view t) {
    if (const std::string_view note = table_note(t); !note.empty()) os << "\n" << note << "\n";
  };
  for (const key_spec& k : schema_keys()) {
    if (k.table() != table) {
      if (table != "\x01") {
        close(table);
        os << "\n";
      }
      table = k.table();
      os << heading(table) << "\n\n| key | meaning | default | allowed |\n|---|---|---|---|\n";
    }
    os << "| `" << k.leaf() << "` | " << k.doc << " | " << default_cell(k) << " | "
       << allowed_cell(k) << " |\n";
  }
  close(table);
  os << "\n## Rules between keys\n\nChecked after every key has been read, each only on keys that "
        "were read without error (scenarios/constraints.cpp):\n\n| rule | requires |\n|---|---|\n";
  for (const scenario_constraint& c : scenario_constraints())
    os << "| `" << c.name << "` | " << c.doc << " |\n";
  return os.str();
}

std::string schema_json() {
  using nlohmann::json;
  const scenario defaults;
  json keys = json::array();
  for (const key_spec& k : schema_keys()) {
    json j;
    j["name"] = k.name;
    j["table"] = k.table();
    j["type"] = name_of(k.type);
    if (!k.unit.empty()) j["unit"] = k.unit;
    const key_value v = k.get(defaults);
    j["default_toml"] = toml_text(k, v);
    switch (k.type) {
      case value_type::integer:
        j["default"] = std::get<int64_t>(v);
        j["min"] = k.int_lo;
        j["max"] = k.int_hi;
        break;
      case value_type::number:
        j["default"] = std::get<double>(v);
        j["min"] = bound(k.range.lo);
        j["min_exclusive"] = k.range.lo_open;
        j["max"] = bound(k.range.hi);
        j["max_exclusive"] = k.range.hi_open;
        break;
      case value_type::boolean:
        j["default"] = std::get<bool>(v);
        break;
      case value_type::string:
        j["default"] = std::get<std::string>(v);
        break;
      case value_type::choice:
        j["default"] = std::get<std::string>(v);
        j["choices"] = k.choices;
        break;
      case value_type::int_list:
        j["default"] = std::get<std::vector<int>>(v);
        j["element_min"] = k.int_lo;
        j["element_max"] = k.int_hi;
        break;
      case value_type::duration:
      case value_type::rate:
      case value_type::duration_distribution:
      case value_type::number_distribution:
        j["default"] = toml_text(k, v);  // as written in a file
        break;
    }
    if (!k.default_from.empty()) j["default_from"] = k.default_from;
    if (!k.default_note.empty()) j["default_note"] = k.default_note;
    j["allowed"] = allowed_cell(k);
    json when = json::array();
    for (const clause& c : k.applies_when)
      when.push_back({{"key", c.key}, {c.equal ? "equals" : "not_equals", c.value}});
    j["applies_when"] = when;
    j["doc"] = k.doc;
    keys.push_back(std::move(j));
  }
  json rules = json::array();
  for (const scenario_constraint& c : scenario_constraints())
    rules.push_back({{"name", c.name}, {"doc", c.doc}});
  json out;
  out["keys"] = std::move(keys);
  out["tables"] = schema_tables();
  out["constraints"] = std::move(rules);
  return out.dump(2) + "\n";
}

}  // namespace baffle
