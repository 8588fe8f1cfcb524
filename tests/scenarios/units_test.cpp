// Tests for scenarios/units.hpp: the duration syntax accepted in scenario files, and that printing
// a duration reads back exactly.
#include "scenarios/units.hpp"

#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace baffle {
namespace {

int64_t ns_of(std::string_view text) {
  const std::optional<sim_time> t = parse_duration(text);
  EXPECT_TRUE(t.has_value()) << "\"" << text << "\" should parse";
  return t ? t->ns : -1;
}

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(ns_of("10ns"), 10);
  EXPECT_EQ(ns_of("200us"), 200'000);
  EXPECT_EQ(ns_of("200\u00b5s"), 200'000);
  EXPECT_EQ(ns_of("50ms"), 50'000'000);
  EXPECT_EQ(ns_of("3s"), 3'000'000'000);
  EXPECT_EQ(ns_of("2min"), 120'000'000'000);
  EXPECT_EQ(ns_of("1h"), 3'600'000'000'000);
}

TEST(ParseDuration, BareZeroNeedsNoUnit) {
  EXPECT_EQ(ns_of("0"), 0);
  EXPECT_EQ(ns_of("0.0"), 0);
  EXPECT_EQ(ns_of("0ms"), 0);
}

TEST(ParseDuration, FractionsAreExactInNanoseconds) {
  EXPECT_EQ(ns_of("1.5s"), 1'500'000'000);
  EXPECT_EQ(ns_of("0.1s"), 100'000'000);  // no binary floating point on the way
  EXPECT_EQ(ns_of("0.001us"), 1);
  EXPECT_EQ(ns_of("1.50000000000000000000000s"), 1'500'000'000);  // trailing zeros are free
  EXPECT_EQ(ns_of("0.5min"), 30'000'000'000);
  EXPECT_EQ(ns_of("007ms"), 7'000'000);
}

TEST(ParseDuration, SubNanosecondValuesAreRejectedNotRounded) {
  EXPECT_FALSE(parse_duration("1.5ns"));
  EXPECT_FALSE(parse_duration("0.0001us"));
  EXPECT_FALSE(parse_duration("0.0000000001s"));
}

TEST(ParseDuration, RejectsMalformedText) {
  for (std::string_view bad :
       {"",      "5",     "1.5",    "-1ms",  "+5ms", "ms",    "1e3s",    "1E3ms",
        "10 ms", " 10ms", "10ms ",  ".5s",   "5.s",  "1..2s", "5sec",    "5MS",
        "5 s",   "5ms5",  "0x10ms", "inf s", "nan",  "5m",    "\xff\xfe"}) {
    EXPECT_FALSE(parse_duration(bad)) << "\"" << bad << "\" should be rejected";
  }
}

TEST(ParseDuration, RejectsValuesBeyondSimTime) {
  EXPECT_EQ(ns_of("9223372036854775807ns"), std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(parse_duration("9223372036854775808ns"));
  EXPECT_FALSE(parse_duration("9223372036.854775808s"));
  EXPECT_FALSE(parse_duration("99999999999999999999999999999999999999999h"));
  EXPECT_FALSE(parse_duration("3000000h"));
}

TEST(FormatDuration, PicksTheShortestExactForm) {
  EXPECT_EQ(format_duration(sim_time::from_ms(50)), "50ms");
  EXPECT_EQ(format_duration(sim_time::from_seconds(1.5)), "1.5s");
  EXPECT_EQ(format_duration(sim_time{0}), "0");
  EXPECT_EQ(format_duration(sim_time{1}), "1ns");
  EXPECT_EQ(format_duration(sim_time{1500}), "1.5us");
  EXPECT_EQ(format_duration(sim_time{1'000'000'001}), "1.000000001s");
  EXPECT_EQ(format_duration(sim_time::from_seconds(60)), "60s");    // shorter than "1min"
  EXPECT_EQ(format_duration(sim_time::from_seconds(120)), "2min");  // tie: the larger unit
  EXPECT_EQ(format_duration(sim_time::from_seconds(7200)), "2h");
  EXPECT_EQ(format_duration(sim_time::from_ms(-50)), "-50ms");
}

TEST(FormatDuration, ReadsBackToTheSameTime) {
  std::vector<int64_t> values = {0,
                                 1,
                                 999,
                                 1000,
                                 1001,
                                 60'000'000'000,
                                 3'600'000'000'000,
                                 std::numeric_limits<int64_t>::max()};
  uint64_t state = 12345;  // fixed LCG: deterministic spread over magnitudes
  for (int i = 0; i < 2000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const int shift = static_cast<int>(state % 63);
    values.push_back(static_cast<int64_t>((state >> 1) >> shift));
  }
  for (int64_t v : values) {
    const std::string text = format_duration(sim_time{v});
    const std::optional<sim_time> back = parse_duration(text);
    ASSERT_TRUE(back.has_value()) << v << " printed as \"" << text << "\"";
    EXPECT_EQ(back->ns, v) << "\"" << text << "\"";
  }
}

}  // namespace
}  // namespace baffle
