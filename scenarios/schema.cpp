// The scenario schema: every key declared once, in one table. Loading (scenarios/loader.cpp),
// the resolved scenario.toml and `baffle schema` (scenarios/schema_docs.cpp) walk this table;
// the struct members and their defaults are in scenarios/scenario.hpp, the cross-key rules in
// scenarios/constraints.cpp. Adding a key is one row here plus its struct member.
#include "scenarios/schema.hpp"
#include "scenarios/schema_builder.hpp"

#include <algorithm>
#include <cmath>

#include "scenarios/toml_text.hpp"
#include "scenarios/units.hpp"

namespace baffle {

std::string number_range::text() const {
  if (std::isinf(hi)) return (lo_open ? "> " : ">= ") + format_double(lo);
  return "in " + std::string(lo_open ? "(" : "[") + format_double(lo) + ", " + format_double(hi) +
         (hi_open ? ")" : "]");
}

namespace {

using schema_detail::make_schema;
using schema_detail::table_doc;
using schema_detail::table_docs;

std::string_view parent_of(std::string_view dotted) {
  const size_t dot = dotted.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : dotted.substr(0, dot);
}

}  // namespace

std::string_view key_spec::table() const {
  return parent_of(name);
}

std::string_view key_spec::leaf() const {
  const size_t dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

const clause* key_spec::failed_clause(const scenario& s) const {
  for (const clause& c : applies_when) {
    const key_spec* other = find_key(c.key);
    const bool same = other != nullptr && std::get<std::string>(other->get(s)) == c.value;
    if (same != c.equal) return &c;
  }
  return nullptr;
}

bool key_spec::applies(const scenario& s) const {
  return failed_clause(s) == nullptr;
}

std::string int_range_text(int64_t lo, int64_t hi) {
  if (hi == std::numeric_limits<int>::max() || hi == std::numeric_limits<int64_t>::max())
    return ">= " + std::to_string(lo);
  return "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
}

std::string key_spec::allowed_text() const {
  const auto int_text = [&] { return int_range_text(int_lo, int_hi); };
  switch (type) {
    case value_type::integer:
      return "integer " + int_text();
    case value_type::number:
      return "number " + range.text();
    case value_type::boolean:
      return "boolean";
    case value_type::string:
      return "non-empty string";
    case value_type::choice: {
      std::string out;
      for (std::string_view c : choices) out += (out.empty() ? "" : ", ") + quote(c);
      return out;
    }
    case value_type::duration:
      return "a duration";
    case value_type::rate:
      return "a rate";
    case value_type::duration_distribution:
      return "a duration or a distribution of durations";
    case value_type::number_distribution:
      return "a number or a distribution";
    case value_type::int_list:
      return "array of integers " + int_text();
  }
  return "";
}

const std::vector<key_spec>& schema_keys() {
  static const std::vector<key_spec> keys = make_schema();
  return keys;
}

const key_spec* find_key(std::string_view dotted) {
  for (const key_spec& k : schema_keys())
    if (k.name == dotted) return &k;
  return nullptr;
}

const std::vector<std::string_view>& schema_tables() {
  static const std::vector<std::string_view> tables = [] {
    std::vector<std::string_view> out;
    for (const key_spec& k : schema_keys()) {
      // Every ancestor of the key's table, outermost first.
      std::string_view t = k.table();
      for (size_t dot = t.find('.'); !t.empty(); dot = t.find('.', dot + 1)) {
        const std::string_view prefix = dot == std::string_view::npos ? t : t.substr(0, dot);
        if (std::find(out.begin(), out.end(), prefix) == out.end()) out.push_back(prefix);
        if (dot == std::string_view::npos) break;
      }
    }
    return out;
  }();
  return tables;
}

std::string_view table_note(std::string_view table) {
  for (const table_doc& d : table_docs())
    if (d.table == table) return d.note;
  return {};
}

std::string toml_text(const key_spec& k, const key_value& v) {
  switch (k.type) {
    case value_type::integer:
      return std::to_string(std::get<int64_t>(v));
    case value_type::number:
      return toml_float(std::get<double>(v));
    case value_type::boolean:
      return std::get<bool>(v) ? "true" : "false";
    case value_type::string:
    case value_type::choice:
      return quote(std::get<std::string>(v));
    case value_type::duration:
      return quote(format_duration(std::get<sim_time>(v)));
    case value_type::rate:
      return quote(format_rate(std::get<double>(v)));
    case value_type::duration_distribution:
      return distribution_toml(std::get<distribution>(v), true);
    case value_type::number_distribution:
      return distribution_toml(std::get<distribution>(v), false);
    case value_type::int_list: {
      std::string out = "[";
      const auto& list = std::get<std::vector<int>>(v);
      for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + std::to_string(list[i]);
      return out + "]";
    }
  }
  return "";
}

}  // namespace baffle
