// docs/scenarios.md carries exactly what `baffle schema --markdown` prints, so a key cannot be
// added, renamed or re-ranged without its documentation following.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "scenarios/schema.hpp"

namespace baffle {
namespace {

std::string read_doc() {
  const char* src = std::getenv("BAFFLE_SOURCE_DIR");
  EXPECT_NE(src, nullptr) << "run through ctest (BAFFLE_SOURCE_DIR)";
  if (src == nullptr) return "";
  std::ifstream in(std::string(src) + "/docs/scenarios.md");
  EXPECT_TRUE(in) << "docs/scenarios.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ScenarioDocs, KeyTablesAreExactlyTheGeneratedOnes) {
  const std::string doc = read_doc();
  const std::string begin = "<!-- BEGIN schema";
  const std::string end = "<!-- END schema -->";
  const size_t b = doc.find(begin);
  ASSERT_NE(b, std::string::npos) << "docs/scenarios.md has no " << begin << " marker";
  const size_t body = doc.find("-->\n", b) + 4;
  const size_t e = doc.find(end, body);
  ASSERT_NE(e, std::string::npos) << "docs/scenarios.md has no " << end << " marker";
  EXPECT_EQ(doc.substr(body, e - body), schema_markdown())
      << "docs/scenarios.md is out of date: replace the text between the markers with the output "
         "of `baffle schema --markdown`";
}

TEST(ScenarioDocs, EveryKeyHasItsOwnRowWithDocumentation) {
  const std::string md = schema_markdown();
  for (const key_spec& k : schema_keys()) {
    EXPECT_FALSE(k.doc.empty()) << k.name << " has no documentation";
    EXPECT_NE(md.find("| `" + std::string(k.leaf()) + "` | " + std::string(k.doc)),
              std::string::npos)
        << k.name;
  }
}

}  // namespace
}  // namespace baffle
