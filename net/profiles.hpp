// The heterogeneous fleet: per-client links and device speeds drawn from distributions, per-round
// speed jitter and dropout, availability traces, and the byte rates scenario files write. Pure
// functions of (spec, seed, client, round): every draw comes from its own Philox purpose, so
// changing one knob (say dropout) never reshuffles another (say latencies).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/enum_names.hpp"
#include "models/philox.hpp"
#include "models/result.hpp"
#include "net/models.hpp"
#include "net/sim_time.hpp"

namespace baffle {

// ---------------------------------------------------------------------------------------------
// Distributions

/// A distribution of a nonnegative quantity (a time in seconds, a speed factor), as plain data.
///
///   constant(value)          a = value
///   uniform(lo, hi)          a = lo, b = hi; draws in [lo, hi)
///   normal(mean, stddev)     a = mean, b = stddev; truncated at zero by rejection, i.e.
///                            N(mean, stddev^2) conditioned on x > 0 (never a point mass at zero,
///                            so a speed factor is never 0). Its mean is above `mean` unless
///                            mean >> stddev (see expected_value); mean >= 0 is required.
///   lognormal(median, sigma) a = median, b = sigma of log x: x = median * exp(sigma * z)
///
/// Every modelled quantity is nonnegative, so truncation is part of `normal` rather than a flag.
struct distribution {
  enum class kind : uint8_t { constant, uniform, normal, lognormal };
  kind k = kind::constant;
  double a = 0.0;
  double b = 0.0;

  static constexpr distribution constant(double value) { return {kind::constant, value, 0.0}; }
  friend constexpr bool operator==(const distribution&, const distribution&) = default;
  static constexpr distribution uniform(double lo, double hi) { return {kind::uniform, lo, hi}; }
  static constexpr distribution normal(double mean, double stddev) {
    return {kind::normal, mean, stddev};
  }
  static constexpr distribution lognormal(double median, double sigma) {
    return {kind::lognormal, median, sigma};
  }
};

/// The `dist = "..."` names of scenario files.
template <>
struct enum_names<distribution::kind> {
  static constexpr std::array<std::pair<distribution::kind, std::string_view>, 4> table = {{
      {distribution::kind::constant, "constant"},
      {distribution::kind::uniform, "uniform"},
      {distribution::kind::normal, "normal"},
      {distribution::kind::lognormal, "lognormal"},
  }};
};

/// The fields a scenario file writes for a distribution of kind k, in the order of (a, b):
/// constant {value}, uniform {min, max}, normal {mean, stddev}, lognormal {median, sigma}.
constexpr std::array<std::string_view, 2> distribution_fields(distribution::kind k) {
  switch (k) {
    case distribution::kind::constant:
      return {"value", ""};
    case distribution::kind::uniform:
      return {"min", "max"};
    case distribution::kind::normal:
      return {"mean", "stddev"};
    case distribution::kind::lognormal:
      return {"median", "sigma"};
  }
  return {"", ""};
}

/// Uniform draws a sample may read: sample `index` of a stream reads only uniform01 draws
/// [index * draws_per_sample, (index + 1) * draws_per_sample), so samples never share draws.
/// Attempt j (j < 64) of the normal's rejection loop uses draws 2j and 2j + 1 of that block.
inline constexpr uint64_t draws_per_sample = 128;

/// The `index`-th sample of d from stream s (index < 2^57). Normals use Box-Muller in double:
/// z = sqrt(-2 ln(1 - u0)) * cos(2 pi u1) from a pair of uniform01 draws (the sine half is unused).
/// Bits follow the platform's libm log/cos/exp in the last place; nothing else varies.
double sample(const distribution& d, const stream_id& s, uint64_t index);

/// The exact mean of d (the truncated normal's, for `normal`).
double expected_value(const distribution& d);

/// What is wrong with d for a nonnegative quantity, or nullopt: finite parameters, constant >= 0,
/// 0 <= lo <= hi, mean >= 0 and stddev >= 0, median > 0 and sigma >= 0.
std::optional<std::string> distribution_error(const distribution& d);

/// A short human form, e.g. "lognormal(median=1, sigma=0.5)", for logs and error messages.
std::string describe(const distribution& d);

// ---------------------------------------------------------------------------------------------
// The fleet

/// How clients' links are drawn. Latency is drawn once per client (where a client sits in the
/// network does not change between rounds; per-round variation is the device jitter's job), and
/// uplink and downlink get independent draws. Bandwidths are the fleet's nominal rates times a
/// per-client factor shared by both directions (a client on a slow network is slow both ways).
struct link_spec {
  distribution latency_seconds = distribution::constant(0.0);   ///< one-way latency, seconds
  double up_bytes_per_sec = 0.0;                                ///< client -> server; 0 = unlimited
  double down_bytes_per_sec = 0.0;                              ///< server -> client; 0 = unlimited
  distribution bandwidth_spread = distribution::constant(1.0);  ///< per-client factor on both
};

/// How clients' compute speeds are drawn: gflops * spread factor, divided by straggler_slowdown
/// for the floor(stragglers * client_count) stragglers, times a per-round jitter factor.
struct device_spec {
  double gflops = 10.0;                               ///< nominal speed, GFLOP/s
  distribution spread = distribution::constant(1.0);  ///< per-client factor, e.g. lognormal(1, 0.5)
  double stragglers = 0.0;                            ///< fraction of clients slowed, in [0, 1]
  double straggler_slowdown = 1.0;  ///< a straggler's speed is divided by this (> 0)
  double jitter = 0.0;              ///< per-round factor uniform in [1 - jitter, 1 + jitter), < 1
};

/// Per-round failures.
struct failure_spec {
  double dropout = 0.0;  ///< P(a selected client vanishes in a round), in [0, 1]
};

/// What is wrong with a spec, or nullopt (the scenario validator's source of truth).
std::optional<std::string> spec_error(const link_spec& l);
std::optional<std::string> spec_error(const device_spec& d);
std::optional<std::string> spec_error(const failure_spec& f);

/// Client `client`'s uplink (client -> server): latency draw 0 of purpose link_latency.
link_profile client_uplink(const link_spec& l, uint64_t seed, uint32_t client);

/// Client `client`'s downlink (server -> client): latency draw 1 of purpose link_latency.
link_profile client_downlink(const link_spec& l, uint64_t seed, uint32_t client);

/// Sorted ids of the exactly floor(stragglers * client_count) stragglers: the clients with the
/// smallest draw of purpose straggler (ties by id). The floor is of the exact product, so 0.29 of
/// 100 clients is 29 despite double rounding. Sets are nested: raising the fraction only adds
/// clients. O(n log n).
std::vector<uint32_t> straggler_clients(const device_spec& d, uint64_t seed, uint32_t client_count);

/// Client `client`'s base speed in GFLOP/s in a fleet of client_count (client < client_count).
/// O(client_count), since straggler membership is a rank: use fleet_gflops to build a whole fleet.
double client_gflops(const device_spec& d, uint64_t seed, uint32_t client, uint32_t client_count);

/// client_gflops for clients 0..client_count-1, in O(n log n).
std::vector<double> fleet_gflops(const device_spec& d, uint64_t seed, uint32_t client_count);

/// The factor multiplying client's speed in round `round`: 1 + jitter * (2u - 1), u uniform01
/// draw `round` of purpose speed_jitter; so in [1 - jitter, 1 + jitter). Exactly 1 if jitter = 0.
double round_speed_factor(const device_spec& d, uint64_t seed, uint32_t client, uint64_t round);

/// Whether client vanishes in round `round`: uniform01 draw `round` of purpose dropout < dropout.
bool drops_out(const failure_spec& f, uint64_t seed, uint32_t client, uint64_t round);

// ---------------------------------------------------------------------------------------------
// Availability traces

/// When each client is online, from a trace file (FedScale style). Text format, one record a line:
///
///   # comment           '#' lines (after spaces) and blank lines are skipped
///   client,time,state   optional header, exactly this, as the first record
///   loop,600s           optional, at most once, anywhere: the trace repeats with this period
///   3,0,off             client id (uint32), time, state
///   3,90s,on
///   3,1.5min,off
///
/// Fields are separated by commas, spaces around them are ignored. time is a duration from the
/// start of the run: "<number><unit>" with unit ns, us, ms, s, min or h, or a bare number of
/// seconds ("90" = "90s"); digits with an optional fraction, no sign or exponent; rounded to the
/// nanosecond. state is "on" or "off". A client's records must have strictly increasing times in
/// file order (clients may interleave). A record that repeats the client's current state is not a
/// change and is ignored.
///
/// Semantics: a record (c, t, s) means client c is in state s from t on (inclusive). Before its
/// first record a client is in the opposite state (records are changes). With `loop P`, every time
/// must be < P and the trace describes one period repeated forever from 0: at phase p = t mod P
/// before the first record, the state is the last record's. Clients absent from the trace are
/// always available.
class availability {
 public:
  /// No trace: every client always available.
  availability() = default;

  /// Whether `client` is online at time t (t >= 0).
  bool available(uint32_t client, sim_time t) const;

  /// The first time after t (strictly) at which available(client, .) changes; never if none.
  sim_time next_change(uint32_t client, sim_time t) const;

  /// The loop period, or nullopt if the trace does not repeat.
  std::optional<sim_time> loop_period() const;

  /// Number of clients the trace names.
  size_t client_count() const { return clients_.size(); }

  /// "No further change".
  static constexpr sim_time never{std::numeric_limits<int64_t>::max()};

 private:
  friend result<availability> parse_availability(std::string_view text,
                                                 const std::string& file_name);
  struct client_trace {
    uint32_t client = 0;
    bool initially_on = true;       // state before the first change (at phase 0 when looping)
    std::vector<sim_time> changes;  // strictly increasing; each toggles the state
  };
  const client_trace* find(uint32_t client) const;

  std::vector<client_trace> clients_;  // sorted by client id
  sim_time period_{0};                 // 0 = no loop
};

/// Parses a trace in the format above; errors read "<file_name>:<line>: <what is wrong>".
result<availability> parse_availability(std::string_view text, const std::string& file_name);

// ---------------------------------------------------------------------------------------------
// Byte rates

/// "1Mbps" -> 125000 bytes/s. "<number><unit>", unit one of bps, kbps (or Kbps), Mbps, Gbps
/// (bits/s, decimal: k = 1e3, M = 1e6, G = 1e9) or Bps, kBps (or KBps), MBps, GBps (bytes/s).
/// Digits with an optional fraction; no sign, exponent or whitespace. "0" (any unit or none) = 0,
/// which links read as unlimited. A nonzero bare number is rejected (bits or bytes?). nullopt if
/// malformed.
std::optional<double> parse_rate(std::string_view text);

/// A form that parse_rate reads back to exactly bytes_per_sec: whole numbers first, then the
/// shortest, then bits before bytes and larger units before smaller: 125000 -> "1Mbps",
/// 62500 -> "500kbps", 2e7 -> "20MBps", 0 -> "0". For finite values >= 0.
std::string format_rate(double bytes_per_sec);

/// The rate syntax in one line, for error messages.
std::string_view rate_syntax();

}  // namespace baffle
