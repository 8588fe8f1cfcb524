// Golden values of net/hash.hpp: the published FNV-1a 64 test vectors with the standard basis, and
// values with the digest basis, which model digests and checkpoint fingerprints depend on.
#include "net/hash.hpp"

#include <gtest/gtest.h>

#include <array>
#include <span>
#include <string_view>

namespace baffle {
namespace {

TEST(Fnv1a, MatchesThePublishedVectorsWithTheStandardBasis) {
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1a, TextAndItsBytesHashAlike) {
  const std::string_view text = "name = \"quickstart\"\n";
  EXPECT_EQ(fnv1a(text), fnv1a(std::as_bytes(std::span(text.data(), text.size()))));
  EXPECT_EQ(fnv1a(text, digest_basis), 0x263adfc6200b653cull);
}

TEST(Fnv1a, TheDigestBasisGivesTheValuesDigestsWereMadeWith) {
  EXPECT_EQ(fnv1a("", digest_basis), digest_basis);
  const std::array<float, 3> params = {1.0f, -2.5f, 0.125f};
  EXPECT_EQ(fnv1a(std::as_bytes(std::span(params)), digest_basis), 0xd2686f4cd8863720ull);
}

}  // namespace
}  // namespace baffle
