// docs/scenarios.md documents every key the loader knows, so the reference cannot drift.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "scenarios/loader.hpp"

namespace baffle {
namespace {

TEST(ScenarioDocs, EveryKnownKeyIsDocumented) {
  const char* src = std::getenv("BAFFLE_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "run through ctest (BAFFLE_SOURCE_DIR)";
  std::ifstream in(std::string(src) + "/docs/scenarios.md");
  ASSERT_TRUE(in) << "docs/scenarios.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  for (const auto& key : known_keys()) {
    // Documented as a table row "| `leaf`" under its section's heading.
    const auto dot = key.rfind('.');
    const std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
    // Built by appending: g++ 12 warns falsely (-Wrestrict) on "[" + s + "]" here.
    std::string section = "## Top level";
    if (dot != std::string::npos) {
      section = "[";
      section += key.substr(0, dot);
      section += "]";
    }
    const auto at = doc.find(section);
    ASSERT_NE(at, std::string::npos) << "no section " << section << " for key " << key;
    // The section runs to the next heading of any level.
    const auto end = doc.find("\n#", at + section.size());
    const std::string body =
        doc.substr(at, end == std::string::npos ? std::string::npos : end - at);
    EXPECT_NE(body.find("| `" + leaf + "`"), std::string::npos)
        << "key " << key << " is not documented";
  }
}

}  // namespace
}  // namespace baffle
