// Tests for scenarios/schema.hpp: the table is consistent with itself and with the struct, the
// resolved scenario.toml and `baffle schema --json` cover exactly its keys, and every enum's name
// table round-trips.
#include "scenarios/schema.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "scenarios/loader.hpp"

namespace baffle {
namespace {

TEST(Schema, KeysAreUniqueAndConditionsNameChoiceKeysAndTheirValues) {
  std::set<std::string_view> names;
  for (const key_spec& k : schema_keys()) {
    EXPECT_TRUE(names.insert(k.name).second) << "declared twice: " << k.name;
    EXPECT_TRUE(k.get && k.set) << k.name;
    for (const clause& c : k.applies_when) {
      const key_spec* other = find_key(c.key);
      ASSERT_NE(other, nullptr) << k.name << " depends on an unknown key " << c.key;
      EXPECT_EQ(other->type, value_type::choice) << k.name << " depends on " << c.key;
      EXPECT_NE(std::find(other->choices.begin(), other->choices.end(), c.value),
                other->choices.end())
          << k.name << ": " << c.key << " has no value " << c.value;
    }
    if (!k.default_from.empty()) {
      const key_spec* from = find_key(k.default_from);
      ASSERT_NE(from, nullptr) << k.name << " takes its default from an unknown key";
      EXPECT_EQ(from->type, k.type) << k.name;
    }
    if (k.type == value_type::choice) {
      EXPECT_GE(k.choices.size(), 2u) << k.name;
    }
  }
}

TEST(Schema, GetAndSetRoundTripEveryMember) {
  // Set each key to its own default read from a scenario, then compare the printed files: a row
  // whose get and set address different members would show up as a difference.
  const scenario defaults;
  scenario copy;
  for (const key_spec& k : schema_keys()) k.set(copy, k.get(defaults));
  EXPECT_EQ(to_toml(copy), to_toml(defaults));
  scenario changed;
  for (const key_spec& k : schema_keys()) {
    if (k.type != value_type::integer) continue;
    const int64_t v = std::get<int64_t>(k.get(changed));
    const int64_t next = v < k.int_hi ? v + 1 : v - 1;
    k.set(changed, key_value{next});
    EXPECT_EQ(std::get<int64_t>(k.get(changed)), next) << k.name;
  }
}

/// The dotted keys a resolved scenario.toml writes, commented out or not.
std::set<std::string> keys_in_resolved_file(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  std::string table;
  while (std::getline(in, line)) {
    if (line.rfind("[", 0) == 0) {
      table = line.substr(1, line.find(']') - 1);
      continue;
    }
    if (line.rfind("# ", 0) == 0) line = line.substr(2);
    const size_t eq = line.find(" = ");
    if (eq == std::string::npos || line.find(' ') < eq) continue;
    out.insert(table.empty() ? line.substr(0, eq) : table + "." + line.substr(0, eq));
  }
  return out;
}

TEST(Schema, JsonIsValidAndHasAnEntryForEveryKeyTheResolvedFileCanHold) {
  const nlohmann::json j = nlohmann::json::parse(schema_json());
  std::set<std::string> in_json;
  for (const auto& k : j.at("keys")) {
    in_json.insert(k.at("name").get<std::string>());
    for (const char* field : {"type", "default_toml", "allowed", "applies_when", "doc"})
      EXPECT_TRUE(k.contains(field)) << k.at("name") << " lacks " << field;
  }
  // Every policy and algorithm, so every conditional key is written at least once.
  std::set<std::string> resolved;
  for (policy_kind p :
       {policy_kind::sync, policy_kind::deadline, policy_kind::first_m, policy_kind::async}) {
    for (algorithm_kind a :
         {algorithm_kind::baffle, algorithm_kind::fedsgd, algorithm_kind::fedavg}) {
      scenario s;
      s.server.policy = p;
      s.train.algorithm = a;
      s.clients.availability_trace = "trace.txt";
      const auto keys = keys_in_resolved_file(to_toml(s));
      resolved.insert(keys.begin(), keys.end());
    }
  }
  EXPECT_EQ(resolved, in_json);
  EXPECT_EQ(j.at("constraints").size(), scenario_constraints().size());
}

TEST(Schema, AChoiceErrorListsTheNamesOfItsEnum) {
  for (const key_spec& k : schema_keys()) {
    if (k.type != value_type::choice) continue;
    const load_result r =
        parse_scenario("", "t.toml", {"data.dataset=synthetic", std::string(k.name) + "=bogus"});
    ASSERT_EQ(r.errors.size(), 1u) << k.name;
    for (std::string_view c : k.choices) {
      // Built by appending: g++ 12 warns falsely (-Wrestrict) on "\"" + s + "\"".
      std::string quoted = "\"";
      quoted += c;
      quoted += '"';
      EXPECT_NE(r.errors[0].message.find(quoted), std::string::npos)
          << k.name << ": " << r.errors[0].message;
    }
  }
}

template <class E>
void expect_names_round_trip() {
  std::set<std::string_view> seen;
  for (const auto& [value, name] : enum_names<E>::table) {
    EXPECT_EQ(parse_name<E>(name), value) << name;
    EXPECT_EQ(name_of(value), name);
    EXPECT_TRUE(seen.insert(name).second) << "name used twice: " << name;
  }
  EXPECT_EQ(parse_name<E>("no such name"), std::nullopt);
}

TEST(Schema, EveryEnumNameTableRoundTrips) {
  expect_names_round_trip<dataset_kind>();
  expect_names_round_trip<partition_kind>();
  expect_names_round_trip<synthetic_kind>();
  expect_names_round_trip<arch_kind>();
  expect_names_round_trip<activation>();
  expect_names_round_trip<norm_kind>();
  expect_names_round_trip<algorithm_kind>();
  expect_names_round_trip<optimizer_kind>();
  expect_names_round_trip<fd_scheme>();
  expect_names_round_trip<seed_mode>();
  expect_names_round_trip<download_mode>();
  expect_names_round_trip<policy_kind>();
  expect_names_round_trip<staleness_kind>();
}

}  // namespace
}  // namespace baffle
