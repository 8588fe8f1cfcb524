// Scenario loader and validator: parses TOML with toml++ (this is the only file that includes it),
// applies --set overrides, then walks the schema table (scenarios/schema.cpp): reads and checks
// every key by its type, fills derived defaults, checks applicability and the named cross-key
// rules, and collects all errors at once. Nothing here names a particular key.
#include "scenarios/loader.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
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
#include "scenarios/toml_values.hpp"
#include "scenarios/units.hpp"

namespace baffle {
namespace {

using namespace std::string_view_literals;
using loader_detail::edit_distance;
using loader_detail::got;
using loader_detail::nearest;
using loader_detail::value_text;

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
      : root_(root),
        file_(file),
        origins_(origins),
        errors_(errors),
        reader_([this](const std::string& key, const toml::node& at, std::string message) {
          error_at(key, at, std::move(message));
        }) {}

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

  // --- one key, by its type ---

  /// Reads key `k` into `s`: absent leaves the default; false if present and bad.
  bool read_key(const key_spec& k, scenario& s) {
    const toml::node* n = find(k.name);
    if (n == nullptr) return true;
    key_value v = k.get(s);
    if (!reader_.read(k, *n, v)) return false;
    k.set(s, v);
    return true;
  }

  const toml::table& root_;
  const std::string& file_;
  const override_origins& origins_;
  std::vector<scenario_error>& errors_;
  loader_detail::value_reader reader_;
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

/// Whether text is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF): what a TOML file must be, so the resolved scenario can be read back.
bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      extra = 1;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      extra = 2;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      extra = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
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
      if (!valid_utf8(text)) {
        // The resolved scenario.toml must be TOML, which is UTF-8 (a run could not resume).
        errors.push_back(make_error(file, key, "",
                                    "--set for " + key +
                                        ": the value is not valid UTF-8 text; scenario "
                                        "values are UTF-8"));
        continue;
      }
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
