// Fleet profiles: distribution statistics over 100k draws, determinism and independence of the
// per-purpose streams, exact straggler counts, jitter and dropout, availability traces and rates.
#include "net/profiles.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <vector>

#include "scenarios/units.hpp"

namespace baffle {
namespace {

constexpr uint64_t seed = 20240611;
constexpr int n_draws = 100'000;

std::vector<double> draws(const distribution& d, uint32_t stream = 0) {
  const stream_id s{seed, purpose::device_speed, stream};
  std::vector<double> v(n_draws);
  for (int i = 0; i < n_draws; ++i) v[i] = sample(d, s, static_cast<uint64_t>(i));
  return v;
}

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double stddev_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

// Fraction of draws below x: an empirical CDF.
double fraction_below(const std::vector<double>& v, double x) {
  return static_cast<double>(std::count_if(v.begin(), v.end(), [x](double y) { return y < x; })) /
         static_cast<double>(v.size());
}

// Five standard errors of a mean of n_draws values with standard deviation sd.
double five_se(double sd) {
  return 5.0 * sd / std::sqrt(static_cast<double>(n_draws));
}

// Five standard errors of an empirical CDF value p.
double five_se_p(double p) {
  return 5.0 * std::sqrt(p * (1 - p) / n_draws);
}

// ---------------------------------------------------------------------------------------------
// Distributions

TEST(Distribution, ConstantAlwaysReturnsItsValue) {
  const auto v = draws(distribution::constant(0.05));
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double x) { return x == 0.05; }));
}

TEST(Distribution, UniformMatchesMeanVarianceAndQuantiles) {
  const auto d = distribution::uniform(2.0, 5.0);
  const auto v = draws(d);
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double x) { return x >= 2.0 && x < 5.0; }));
  const double sd = 3.0 / std::sqrt(12.0);
  EXPECT_NEAR(mean_of(v), 3.5, five_se(sd));
  EXPECT_NEAR(expected_value(d), 3.5, 1e-15);
  EXPECT_NEAR(stddev_of(v), sd, 0.01);
  for (double p : {0.1, 0.25, 0.5, 0.9})
    EXPECT_NEAR(fraction_below(v, 2.0 + 3.0 * p), p, five_se_p(p));
}

TEST(Distribution, NormalFarFromZeroMatchesGaussianMeanSpreadAndTails) {
  const auto v = draws(distribution::normal(10.0, 2.0));
  EXPECT_NEAR(mean_of(v), 10.0, five_se(2.0));
  EXPECT_NEAR(stddev_of(v), 2.0, 0.02);
  // Phi(-1) = 0.158655, Phi(-2) = 0.022750, Phi(1) = 0.841345.
  EXPECT_NEAR(fraction_below(v, 8.0), 0.158655, five_se_p(0.158655));
  EXPECT_NEAR(fraction_below(v, 6.0), 0.022750, five_se_p(0.022750));
  EXPECT_NEAR(fraction_below(v, 12.0), 0.841345, five_se_p(0.841345));
  EXPECT_NEAR(fraction_below(v, 10.0), 0.5, five_se_p(0.5));
}

TEST(Distribution, NormalIsTruncatedAtZeroByRejectionNotClamping) {
  // normal(0, 1) truncated to x > 0 is the half-normal: mean sqrt(2/pi), median 0.674490.
  const auto d = distribution::normal(0.0, 1.0);
  const auto v = draws(d);
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double x) { return x > 0.0; }));
  EXPECT_NEAR(expected_value(d), std::sqrt(2.0 / std::numbers::pi), 1e-12);
  EXPECT_NEAR(mean_of(v), std::sqrt(2.0 / std::numbers::pi), five_se(0.6028));
  EXPECT_NEAR(fraction_below(v, 0.674490), 0.5, five_se_p(0.5));
  EXPECT_NEAR(fraction_below(v, 1e-3), 0.0008, 0.0006);  // no point mass at zero
}

TEST(Distribution, PartlyTruncatedNormalMeanMatchesTheFormula) {
  const auto d = distribution::normal(1.0, 1.0);  // 16% of the mass cut off
  EXPECT_NEAR(mean_of(draws(d)), expected_value(d), five_se(1.0));
  EXPECT_GT(expected_value(d), 1.2);
}

TEST(Distribution, LognormalHasTheGivenMedianAndLogSpread) {
  const auto d = distribution::lognormal(2.0, 0.5);
  const auto v = draws(d);
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double x) { return x > 0.0; }));
  EXPECT_NEAR(fraction_below(v, 2.0), 0.5, five_se_p(0.5));
  std::vector<double> logs(v.size());
  std::transform(v.begin(), v.end(), logs.begin(), [](double x) { return std::log(x); });
  EXPECT_NEAR(mean_of(logs), std::log(2.0), five_se(0.5));
  EXPECT_NEAR(stddev_of(logs), 0.5, 0.005);
  // Mean = median * exp(sigma^2 / 2); sd = mean * sqrt(exp(sigma^2) - 1).
  const double mean = 2.0 * std::exp(0.125);
  EXPECT_NEAR(expected_value(d), mean, 1e-12);
  EXPECT_NEAR(mean_of(v), mean, five_se(mean * std::sqrt(std::exp(0.25) - 1)));
}

TEST(Distribution, SamplesArePureFunctionsOfStreamAndIndex) {
  const auto d = distribution::lognormal(1.0, 0.5);
  const stream_id s{seed, purpose::device_speed, 7};
  const double forward = sample(d, s, 12345);
  for (int i = 0; i < 100; ++i) sample(d, s, static_cast<uint64_t>(i));  // other draws between
  EXPECT_EQ(sample(d, s, 12345), forward);
  EXPECT_NE(sample(d, {seed, purpose::device_speed, 8}, 12345), forward);
  EXPECT_NE(sample(d, {seed + 1, purpose::device_speed, 7}, 12345), forward);
  EXPECT_NE(sample(d, s, 12346), forward);
}

TEST(Distribution, SamplesFollowTheDocumentedDrawLayout) {
  // Sample i reads uniform01 draws from 128 i on; Box-Muller z = sqrt(-2 ln(1 - u0)) cos(2 pi u1).
  const stream_id s{42, purpose::device_speed, 3};
  const auto z = [&](uint64_t first) {
    return std::sqrt(-2.0 * std::log(1.0 - uniform01(s, first))) *
           std::cos(2.0 * std::numbers::pi * uniform01(s, first + 1));
  };
  EXPECT_EQ(sample(distribution::uniform(1.0, 3.0), s, 2), 1.0 + 2.0 * uniform01(s, 256));
  EXPECT_DOUBLE_EQ(sample(distribution::normal(5.0, 1.0), s, 0), 5.0 + z(0));
  EXPECT_DOUBLE_EQ(sample(distribution::lognormal(2.0, 0.5), s, 1), 2.0 * std::exp(0.5 * z(128)));
}

TEST(Distribution, GoldenValuesPinTheSamplingMapping) {
  // Changing these changes every experiment with heterogeneous fleets: do it on purpose only.
  // The tolerance allows for last-bit differences between libm implementations.
  const stream_id s{42, purpose::device_speed, 3};
  EXPECT_NEAR(sample(distribution::uniform(0.0, 1.0), s, 0), 0.44962391354304199, 1e-15);
  EXPECT_NEAR(sample(distribution::normal(5.0, 1.0), s, 0), 5.104058888574829, 1e-12);
  EXPECT_NEAR(sample(distribution::lognormal(1.0, 1.0), s, 1), 0.28671698833574455, 1e-12);
}

TEST(Distribution, ErrorsNameTheBadParameter) {
  EXPECT_FALSE(distribution_error(distribution::lognormal(1, 0.5)));
  EXPECT_FALSE(distribution_error(distribution::normal(0, 1)));
  EXPECT_EQ(*distribution_error(distribution::uniform(3, 2)),
            "uniform(lo=3, hi=2): needs 0 <= lo <= hi");
  EXPECT_TRUE(distribution_error(distribution::lognormal(0, 0.5)));
  EXPECT_TRUE(distribution_error(distribution::normal(-1, 1)));
  EXPECT_TRUE(distribution_error(distribution::constant(-0.1)));
  EXPECT_TRUE(distribution_error(distribution::constant(std::numeric_limits<double>::quiet_NaN())));
}

// ---------------------------------------------------------------------------------------------
// Links

TEST(ClientLinks, FixedLatencyAndMegabytePerSecondGiveFiftyOneMillisecondsForOneKilobyte) {
  link_spec l;
  l.latency_seconds = distribution::constant(0.050);
  l.up_bytes_per_sec = 1e6;
  const link_profile up = client_uplink(l, seed, 17);
  EXPECT_EQ(up.latency, sim_time::from_ms(50));
  EXPECT_EQ(up.bytes_per_sec, 1e6);
  EXPECT_EQ(transfer_time(up, 1000), sim_time::from_ms(51));
}

TEST(ClientLinks, ZeroBandwidthStaysUnlimited) {
  link_spec l;
  l.bandwidth_spread = distribution::lognormal(1, 0.5);
  const link_profile down = client_downlink(l, seed, 3);
  EXPECT_EQ(down.bytes_per_sec, 0.0);
  EXPECT_EQ(transfer_time(down, 1'000'000'000), sim_time{0});
}

TEST(ClientLinks, LatencyIsDrawnPerClientAndPerDirection) {
  link_spec l;
  l.latency_seconds = distribution::uniform(0.01, 0.1);
  EXPECT_NE(client_uplink(l, seed, 0).latency, client_uplink(l, seed, 1).latency);
  EXPECT_NE(client_uplink(l, seed, 0).latency, client_downlink(l, seed, 0).latency);
  EXPECT_EQ(client_uplink(l, seed, 5).latency, client_uplink(l, seed, 5).latency);
  for (uint32_t c = 0; c < 1000; ++c) {
    const sim_time t = client_uplink(l, seed, c).latency;
    EXPECT_GE(t, sim_time::from_ms(10));
    EXPECT_LE(t, sim_time::from_ms(100));
  }
}

TEST(ClientLinks, BandwidthSpreadScalesBothDirectionsByTheSameFactor) {
  link_spec l;
  l.up_bytes_per_sec = 1e6;
  l.down_bytes_per_sec = 4e6;
  l.bandwidth_spread = distribution::uniform(0.5, 1.5);
  for (uint32_t c = 0; c < 100; ++c) {
    const double up = client_uplink(l, seed, c).bytes_per_sec;
    const double down = client_downlink(l, seed, c).bytes_per_sec;
    EXPECT_DOUBLE_EQ(down, 4 * up);
    EXPECT_GE(up, 0.5e6);
    EXPECT_LT(up, 1.5e6);
  }
}

// ---------------------------------------------------------------------------------------------
// Devices, jitter, dropout

TEST(ClientSpeed, SpreadMultipliesTheNominalSpeed) {
  device_spec d;
  d.gflops = 20;
  d.spread = distribution::lognormal(1.0, 0.5);
  const auto fleet = fleet_gflops(d, seed, 20'000);
  std::vector<double> factors(fleet.size());
  std::transform(fleet.begin(), fleet.end(), factors.begin(), [](double g) { return g / 20; });
  EXPECT_NEAR(fraction_below(factors, 1.0), 0.5, 5 * std::sqrt(0.25 / 20'000));
  EXPECT_EQ(fleet_gflops(device_spec{}, seed, 3), (std::vector<double>{10, 10, 10}));
}

TEST(ClientSpeed, ExactlyTheFloorOfTheFractionAreStragglers) {
  device_spec d;
  d.gflops = 8;
  d.stragglers = 0.25;
  d.straggler_slowdown = 4;
  for (uint32_t n : {0u, 1u, 3u, 4u, 10u, 101u, 1000u}) {
    const auto slow = straggler_clients(d, seed, n);
    EXPECT_EQ(slow.size(), n / 4) << n;
    const auto fleet = fleet_gflops(d, seed, n);
    EXPECT_EQ(std::count(fleet.begin(), fleet.end(), 2.0), static_cast<long>(n / 4)) << n;
    for (uint32_t c = 0; c < n; ++c) EXPECT_EQ(client_gflops(d, seed, c, n), fleet[c]) << c;
  }
}

TEST(ClientSpeed, StragglerCountIsTheFloorOfTheDecimalNotOfItsRoundingError) {
  device_spec d;
  d.stragglers = 0.29;  // 0.29 * 100 = 28.999999999999996 in double
  EXPECT_EQ(straggler_clients(d, seed, 100).size(), 29u);
  d.stragglers = 0.57;  // 0.57 * 100 = 56.99999999999999
  EXPECT_EQ(straggler_clients(d, seed, 100).size(), 57u);
  d.stragglers = 0.299;
  EXPECT_EQ(straggler_clients(d, seed, 100).size(), 29u);
  d.stragglers = 1.0;
  EXPECT_EQ(straggler_clients(d, seed, 7).size(), 7u);
}

TEST(ClientSpeed, RaisingTheStragglerFractionOnlyAddsStragglers) {
  device_spec d;
  d.stragglers = 0.1;
  const auto few = straggler_clients(d, seed, 500);
  d.stragglers = 0.3;
  const auto more = straggler_clients(d, seed, 500);
  EXPECT_EQ(more.size(), 150u);
  EXPECT_TRUE(std::includes(more.begin(), more.end(), few.begin(), few.end()));
  EXPECT_NE(straggler_clients(d, seed + 1, 500), more);  // another seed, another set
}

TEST(ClientSpeed, JitterStaysInItsBandAndAveragesToOne) {
  device_spec d;
  d.jitter = 0.2;
  std::vector<double> v;
  for (uint64_t round = 0; round < 1000; ++round) {
    for (uint32_t c = 0; c < 100; ++c) v.push_back(round_speed_factor(d, seed, c, round));
  }
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double f) { return f >= 0.8 && f < 1.2; }));
  EXPECT_NEAR(mean_of(v), 1.0, five_se(0.4 / std::sqrt(12.0)));
  EXPECT_LT(*std::min_element(v.begin(), v.end()), 0.801);
  EXPECT_GT(*std::max_element(v.begin(), v.end()), 1.199);
  EXPECT_NE(round_speed_factor(d, seed, 1, 5), round_speed_factor(d, seed, 1, 6));
  EXPECT_EQ(round_speed_factor(device_spec{}, seed, 1, 5), 1.0);
}

TEST(Dropout, RateMatchesTheProbability) {
  for (double p : {0.0, 0.1, 0.5, 1.0}) {
    const failure_spec f{p};
    int dropped = 0;
    for (uint64_t round = 0; round < 1000; ++round) {
      for (uint32_t c = 0; c < 100; ++c) dropped += drops_out(f, seed, c, round) ? 1 : 0;
    }
    EXPECT_NEAR(dropped / 100'000.0, p, five_se_p(p) + 1e-12) << p;
  }
}

TEST(Dropout, RaisingTheRateOnlyAddsDropouts) {
  for (uint32_t c = 0; c < 50; ++c) {
    for (uint64_t round = 0; round < 50; ++round) {
      if (drops_out({0.1}, seed, c, round)) {
        EXPECT_TRUE(drops_out({0.3}, seed, c, round));
      }
    }
  }
}

TEST(Independence, ChangingOneKnobLeavesTheOtherDrawsAlone) {
  // Every draw comes from its own purpose: dropout, jitter and stragglers never move latencies or
  // speeds, so an experiment can vary one knob and compare like with like.
  link_spec l;
  l.latency_seconds = distribution::lognormal(0.02, 0.5);
  l.up_bytes_per_sec = 1e6;
  l.bandwidth_spread = distribution::uniform(0.5, 2);
  device_spec d;
  d.spread = distribution::lognormal(1, 0.5);
  const auto speeds = fleet_gflops(d, seed, 100);
  std::vector<link_profile> ups;
  for (uint32_t c = 0; c < 100; ++c) ups.push_back(client_uplink(l, seed, c));

  // Dropout is a separate function of its own stream: nothing above depends on it, and dropouts
  // do not depend on the link or device spec.
  std::vector<bool> drops;
  for (uint32_t c = 0; c < 100; ++c) drops.push_back(drops_out({0.3}, seed, c, 7));

  device_spec jittery = d;
  jittery.jitter = 0.3;
  EXPECT_EQ(fleet_gflops(jittery, seed, 100), speeds);

  // Changing the latency distribution does not change bandwidths, and vice versa.
  link_spec other = l;
  other.latency_seconds = distribution::normal(0.05, 0.01);
  link_spec wider = l;
  wider.bandwidth_spread = distribution::lognormal(1, 1);
  for (uint32_t c = 0; c < 100; ++c) {
    EXPECT_EQ(client_uplink(other, seed, c).bytes_per_sec, ups[c].bytes_per_sec);
    EXPECT_EQ(client_uplink(wider, seed, c).latency, ups[c].latency);
    EXPECT_EQ(drops_out({0.3}, seed, c, 7), drops[c]);
  }

  // Stragglers slow exactly their clients; everybody else keeps the same speed.
  device_spec slowed = d;
  slowed.stragglers = 0.2;
  slowed.straggler_slowdown = 3;
  const auto slow_speeds = fleet_gflops(slowed, seed, 100);
  const auto slow = straggler_clients(slowed, seed, 100);
  for (uint32_t c = 0; c < 100; ++c) {
    const bool is_slow = std::binary_search(slow.begin(), slow.end(), c);
    EXPECT_DOUBLE_EQ(slow_speeds[c], is_slow ? speeds[c] / 3 : speeds[c]);
  }
  // The purposes themselves differ, so the raw streams differ.
  EXPECT_NE(uniform01({seed, purpose::dropout, 0}, 0),
            uniform01({seed, purpose::speed_jitter, 0}, 0));
}

TEST(Specs, ErrorsSayWhatIsAllowed) {
  EXPECT_FALSE(spec_error(link_spec{}));
  EXPECT_FALSE(spec_error(device_spec{}));
  EXPECT_FALSE(spec_error(failure_spec{}));
  EXPECT_EQ(*spec_error(failure_spec{1.5}), "dropout is a probability in [0, 1], got 1.5");
  device_spec d;
  d.spread = distribution::uniform(0, 2);
  EXPECT_NE(spec_error(d)->find("can be 0"), std::string::npos);
  d = device_spec{};
  d.jitter = 1;
  EXPECT_TRUE(spec_error(d));
  d = device_spec{};
  d.stragglers = -0.1;
  EXPECT_TRUE(spec_error(d));
  link_spec l;
  l.up_bytes_per_sec = -1;
  EXPECT_TRUE(spec_error(l));
}

// ---------------------------------------------------------------------------------------------
// Availability traces

sim_time sec(double s) {
  return sim_time::from_seconds(s);
}

TEST(Availability, RecordsAreChangesAndAbsentClientsAreAlwaysOn) {
  const auto a = parse_availability(
      "# two clients\n"
      "client,time,state\n"
      "3,60s,on\n"
      "5, 0 , off\n"
      "3,2min,off\n"
      "5,90,on\n",
      "trace.csv");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->client_count(), 2u);
  EXPECT_FALSE(a->loop_period());
  // Client 3: off before its first record (on at 60s), off again from 120s.
  EXPECT_FALSE(a->available(3, sec(0)));
  EXPECT_FALSE(a->available(3, sec(59.999)));
  EXPECT_TRUE(a->available(3, sec(60)));
  EXPECT_TRUE(a->available(3, sec(119)));
  EXPECT_FALSE(a->available(3, sec(120)));
  EXPECT_FALSE(a->available(3, sec(1e6)));
  // Client 5: off from 0, on from 90s ("90" is seconds).
  EXPECT_FALSE(a->available(5, sec(0)));
  EXPECT_TRUE(a->available(5, sec(90)));
  // Client 4 is not in the trace.
  EXPECT_TRUE(a->available(4, sec(0)));
  EXPECT_EQ(a->next_change(4, sec(0)), availability::never);

  EXPECT_EQ(a->next_change(3, sec(0)), sec(60));
  EXPECT_EQ(a->next_change(3, sec(60)), sec(120));  // strictly after t
  EXPECT_EQ(a->next_change(3, sec(120)), availability::never);
  EXPECT_EQ(a->next_change(5, sec(0)), sec(90));
}

TEST(Availability, DefaultHasEveryClientAvailable) {
  const availability a;
  EXPECT_TRUE(a.available(0, sec(5)));
  EXPECT_EQ(a.next_change(0, sec(5)), availability::never);
  const auto empty = parse_availability("", "empty.csv");
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_EQ(empty->client_count(), 0u);
}

TEST(Availability, RepeatedStatesAreNotChanges) {
  const auto a = parse_availability("1,10s,off\n1,20s,off\n1,30s,on\n", "t.csv");
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->available(1, sec(5)));
  EXPECT_FALSE(a->available(1, sec(25)));
  EXPECT_EQ(a->next_change(1, sec(10)), sec(30));
}

TEST(Availability, LoopingTraceRepeatsWithItsPeriod) {
  const auto a = parse_availability(
      "loop,10min\n"
      "7,1min,off\n"
      "7,4min,on\n"
      "8,0,on\n"
      "8,5min,off\n",
      "loop.csv");
  ASSERT_TRUE(a) << a.error();
  ASSERT_TRUE(a->loop_period());
  EXPECT_EQ(*a->loop_period(), sec(600));
  for (int period = 0; period < 3; ++period) {
    const double base = 600.0 * period;
    // Client 7: last state (on) wraps around to [0, 1min).
    EXPECT_TRUE(a->available(7, sec(base + 0)));
    EXPECT_FALSE(a->available(7, sec(base + 60)));
    EXPECT_FALSE(a->available(7, sec(base + 239)));
    EXPECT_TRUE(a->available(7, sec(base + 240)));
    EXPECT_TRUE(a->available(7, sec(base + 599)));
    // Client 8: on in [0, 5min), off in [5min, 10min).
    EXPECT_TRUE(a->available(8, sec(base + 0)));
    EXPECT_FALSE(a->available(8, sec(base + 300)));
  }
  EXPECT_EQ(a->next_change(7, sec(0)), sec(60));
  EXPECT_EQ(a->next_change(7, sec(60)), sec(240));
  EXPECT_EQ(a->next_change(7, sec(240)), sec(660));  // wraps into the next period
  EXPECT_EQ(a->next_change(7, sec(1300)), sec(1440));
  EXPECT_EQ(a->next_change(8, sec(299)), sec(300));
  EXPECT_EQ(a->next_change(8, sec(300)), sec(600));  // on again at the period start
  EXPECT_EQ(a->next_change(8, sec(600)), sec(900));
}

TEST(Availability, LoopingClientWithOneStateNeverChanges) {
  const auto a = parse_availability("loop,1h\n2,30min,off\n", "one.csv");
  ASSERT_TRUE(a) << a.error();
  EXPECT_FALSE(a->available(2, sec(0)));
  EXPECT_FALSE(a->available(2, sec(5000)));
  EXPECT_EQ(a->next_change(2, sec(0)), availability::never);
}

TEST(Availability, NextChangeAgreesWithAvailableEverywhere) {
  const auto a = parse_availability("loop,100s\n1,10s,off\n1,35s,on\n1,70s,off\n", "x.csv");
  ASSERT_TRUE(a) << a.error();
  sim_time t{0};
  while (t < sec(400)) {
    const sim_time next = a->next_change(1, t);
    ASSERT_GT(next, t);
    ASSERT_LT(next, sec(500));
    const bool now = a->available(1, t);
    EXPECT_EQ(a->available(1, next - sim_time{1}), now) << t.ns;
    EXPECT_NE(a->available(1, next), now) << t.ns;
    t = next;
  }
}

TEST(Availability, ErrorsNameFileLineAndProblem) {
  const auto expect_error = [](std::string_view text, const std::string& message) {
    const auto a = parse_availability(text, "avail.csv");
    ASSERT_FALSE(a) << text;
    EXPECT_EQ(a.error(), message);
  };
  expect_error("1,0,on\n\n1,5x,off\n",
               "avail.csv:3: time \"5x\" is not a duration such as 90s, 1.5min or 250ms (units ns, "
               "us, ms, s, min, h) or a bare number of seconds");
  expect_error("1,0,up\n", "avail.csv:1: state \"up\" must be \"on\" or \"off\"");
  expect_error("# c\n-1,0,on\n", "avail.csv:2: client \"-1\" is not an id from 0 to 4294967295");
  expect_error("1,0,on,extra\n",
               "avail.csv:1: expected \"client,time,state\" (3 fields), got 4 in \"1,0,on,extra\"");
  expect_error("1,60s,on\n2,0,on\n1,30s,off\n",
               "avail.csv:3: client 1: time \"30s\" is not after its previous record's \"60s\" "
               "(line 1); a client's records must have increasing times");
  expect_error("loop,5min\n1,5min,on\n",
               "avail.csv:2: time \"5min\" is not before the loop period \"5min\" (line 1); "
               "looping traces describe one period");
  expect_error("loop,1h\nloop,2h\n",
               "avail.csv:2: second loop line (the first is line 1); a trace has at most one "
               "period");
  expect_error("loop,0\n", "avail.csv:1: loop period must be > 0");
  expect_error("1,-5s,on\n",
               "avail.csv:1: time \"-5s\" is not a duration such as 90s, 1.5min or 250ms (units "
               "ns, us, ms, s, min, h) or a bare number of seconds");
}

TEST(Availability, AcceptsWindowsLineEndsAndFractionalTimes) {
  const auto a = parse_availability("client,time,state\r\n4,1.5s,off\r\n4,2500ms,on\r\n", "w.csv");
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->available(4, sec(1.4)));
  EXPECT_FALSE(a->available(4, sec(1.5)));
  EXPECT_TRUE(a->available(4, sec(2.5)));
  // The same durations as the scenario files' parser reads them.
  EXPECT_EQ(a->next_change(4, sec(0)), *parse_duration("1.5s"));
}

// ---------------------------------------------------------------------------------------------
// Rates

TEST(Rates, BitsAndBytesWithDecimalPrefixes) {
  EXPECT_EQ(parse_rate("1Mbps"), 125'000.0);
  EXPECT_EQ(parse_rate("20MBps"), 20e6);
  EXPECT_EQ(parse_rate("500kbps"), 62'500.0);
  EXPECT_EQ(parse_rate("500Kbps"), 62'500.0);
  EXPECT_EQ(parse_rate("1Gbps"), 125e6);
  EXPECT_EQ(parse_rate("2.5GBps"), 2.5e9);
  EXPECT_EQ(parse_rate("8bps"), 1.0);
  EXPECT_EQ(parse_rate("3Bps"), 3.0);
  EXPECT_EQ(parse_rate("0"), 0.0);
  EXPECT_EQ(parse_rate("0Mbps"), 0.0);
}

TEST(Rates, RejectsMalformedInput) {
  for (std::string_view bad :
       {"", "Mbps", "10", "-1Mbps", "1e6bps", "10 Mbps", " 10Mbps", "10mbps", "10Mb", "1.Mbps",
        ".5Mbps", "10Mbps ", "inf", "nanMbps", "10MiBps", "1,5Mbps"}) {
    EXPECT_FALSE(parse_rate(bad)) << bad;
  }
}

TEST(Rates, FormatIsShortAndReadsBack) {
  EXPECT_EQ(format_rate(0), "0");
  EXPECT_EQ(format_rate(125'000), "1Mbps");
  EXPECT_EQ(format_rate(20e6), "20MBps");
  EXPECT_EQ(format_rate(62'500), "500kbps");
  EXPECT_EQ(format_rate(125e6), "1Gbps");
  EXPECT_EQ(format_rate(1), "8bps");
  for (double r : {1.0, 3.0, 1234.5, 125'000.0, 20e6, 1e6 / 3, 0.1, 7e9}) {
    const auto back = parse_rate(format_rate(r));
    ASSERT_TRUE(back) << format_rate(r);
    EXPECT_EQ(*back, r) << format_rate(r);
  }
}

}  // namespace
}  // namespace baffle
