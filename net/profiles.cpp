// Fleet profiles: distributions sampled from Philox streams, per-client links and speeds, per-round
// jitter and dropout, availability traces and byte rates. No std:: random engines anywhere.
#include "net/profiles.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <numbers>
#include <utility>

#include "net/text.hpp"

namespace baffle {

// ---------------------------------------------------------------------------------------------
// Distributions

namespace {

constexpr uint64_t max_attempts = draws_per_sample / 2;  // rejection attempts of a truncated normal

// One N(0,1) draw by Box-Muller from uniform draws (first, first + 1). 1 - u0 is in (0, 1], so the
// log is finite.
double box_muller(const stream_id& s, uint64_t first) {
  const double u0 = uniform01(s, first);
  const double u1 = uniform01(s, first + 1);
  return std::sqrt(-2.0 * std::log(1.0 - u0)) * std::cos(2.0 * std::numbers::pi * u1);
}

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::numbers::sqrt2);
}

double normal_pdf(double x) {
  return std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
}

std::string number(double v) {
  std::array<char, 32> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return ec == std::errc{} ? std::string(buf.data(), end) : std::string("?");
}

}  // namespace

double sample(const distribution& d, const stream_id& s, uint64_t index) {
  const uint64_t first = index * draws_per_sample;
  switch (d.k) {
    case distribution::kind::constant:
      return d.a;
    case distribution::kind::uniform:
      return d.a + (d.b - d.a) * uniform01(s, first);
    case distribution::kind::normal: {
      if (d.b <= 0.0) return std::max(d.a, 0.0);
      double x = 0.0;
      for (uint64_t attempt = 0; attempt < max_attempts; ++attempt) {
        x = d.a + d.b * box_muller(s, first + 2 * attempt);
        if (x > 0.0) return x;
      }
      // Unreachable in practice: with mean >= 0 each attempt fails with probability <= 1/2.
      return std::abs(x);
    }
    case distribution::kind::lognormal:
      return d.a * std::exp(d.b * box_muller(s, first));
  }
  return d.a;
}

double expected_value(const distribution& d) {
  switch (d.k) {
    case distribution::kind::constant:
      return d.a;
    case distribution::kind::uniform:
      return 0.5 * (d.a + d.b);
    case distribution::kind::normal: {
      if (d.b <= 0.0) return std::max(d.a, 0.0);
      // Truncated to (0, inf): mean + stddev * phi(alpha) / (1 - Phi(alpha)), alpha = -mean/sd.
      const double alpha = -d.a / d.b;
      return d.a + d.b * normal_pdf(alpha) / normal_cdf(-alpha);
    }
    case distribution::kind::lognormal:
      return d.a * std::exp(0.5 * d.b * d.b);
  }
  return d.a;
}

std::optional<std::string> distribution_error(const distribution& d) {
  if (!std::isfinite(d.a) || !std::isfinite(d.b))
    return describe(d) + ": parameters must be finite numbers";
  switch (d.k) {
    case distribution::kind::constant:
      if (d.a < 0) return describe(d) + ": the value must be >= 0";
      break;
    case distribution::kind::uniform:
      if (d.a < 0 || d.b < d.a) return describe(d) + ": needs 0 <= lo <= hi";
      break;
    case distribution::kind::normal:
      if (d.a < 0 || d.b < 0) return describe(d) + ": needs mean >= 0 and stddev >= 0";
      break;
    case distribution::kind::lognormal:
      if (d.a <= 0 || d.b < 0) return describe(d) + ": needs median > 0 and sigma >= 0";
      break;
  }
  return std::nullopt;
}

std::string describe(const distribution& d) {
  switch (d.k) {
    case distribution::kind::constant:
      return "constant(" + number(d.a) + ")";
    case distribution::kind::uniform:
      return "uniform(lo=" + number(d.a) + ", hi=" + number(d.b) + ")";
    case distribution::kind::normal:
      return "normal(mean=" + number(d.a) + ", stddev=" + number(d.b) + ")";
    case distribution::kind::lognormal:
      return "lognormal(median=" + number(d.a) + ", sigma=" + number(d.b) + ")";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// The fleet

namespace {

// A factor must be > 0 almost surely: a zero speed or bandwidth factor would mean "never".
std::optional<std::string> factor_error(const distribution& d, std::string_view what) {
  if (auto e = distribution_error(d)) return std::string(what) + ": " + *e;
  const bool can_be_zero = (d.k == distribution::kind::constant && d.a == 0) ||
                           (d.k == distribution::kind::uniform && d.a == 0) ||
                           (d.k == distribution::kind::normal && d.a == 0 && d.b == 0);
  if (can_be_zero) return std::string(what) + ": " + describe(d) + " can be 0; factors must be > 0";
  return std::nullopt;
}

bool is_fraction(double p) {
  return p >= 0.0 && p <= 1.0;  // false for NaN
}

link_profile client_link(const link_spec& l, uint64_t seed, uint32_t client, uint64_t direction,
                         double nominal_bytes_per_sec) {
  const double latency =
      sample(l.latency_seconds, {seed, purpose::link_latency, client}, direction);
  const double factor = sample(l.bandwidth_spread, {seed, purpose::link_bandwidth, client}, 0);
  return {sim_time::from_seconds(latency), nominal_bytes_per_sec * factor};  // 0 stays unlimited
}

uint32_t straggler_count(const device_spec& d, uint32_t client_count) {
  // 0.29 * 100 is 28.999999999999996 in double: a product within rounding error of a whole
  // number counts as that number, so the count is the floor of the decimal the user wrote.
  const double x = d.stragglers * static_cast<double>(client_count);
  const double nearest = std::round(x);
  const double k = std::abs(x - nearest) <= 1e-9 * std::max(1.0, x) ? nearest : std::floor(x);
  return static_cast<uint32_t>(std::clamp(k, 0.0, static_cast<double>(client_count)));
}

double straggler_draw(uint64_t seed, uint32_t client) {
  return uniform01({seed, purpose::straggler, client}, 0);
}

double spread_gflops(const device_spec& d, uint64_t seed, uint32_t client) {
  return d.gflops * sample(d.spread, {seed, purpose::device_speed, client}, 0);
}

}  // namespace

std::optional<std::string> spec_error(const link_spec& l) {
  if (auto e = distribution_error(l.latency_seconds)) return "latency: " + *e;
  if (!(l.up_bytes_per_sec >= 0) || !std::isfinite(l.up_bytes_per_sec))
    return "up bandwidth must be a finite rate >= 0 (0 = unlimited), got " +
           number(l.up_bytes_per_sec);
  if (!(l.down_bytes_per_sec >= 0) || !std::isfinite(l.down_bytes_per_sec))
    return "down bandwidth must be a finite rate >= 0 (0 = unlimited), got " +
           number(l.down_bytes_per_sec);
  return factor_error(l.bandwidth_spread, "bandwidth spread");
}

std::optional<std::string> spec_error(const device_spec& d) {
  if (!(d.gflops > 0) || !std::isfinite(d.gflops))
    return "gflops must be a finite speed > 0, got " + number(d.gflops);
  if (auto e = factor_error(d.spread, "speed spread")) return e;
  if (!is_fraction(d.stragglers))
    return "stragglers is a fraction of clients in [0, 1], got " + number(d.stragglers);
  if (!(d.straggler_slowdown > 0) || !std::isfinite(d.straggler_slowdown))
    return "straggler slowdown divides speed and must be > 0, got " + number(d.straggler_slowdown);
  if (!(d.jitter >= 0 && d.jitter < 1))
    return "jitter must be in [0, 1) so speed stays positive, got " + number(d.jitter);
  return std::nullopt;
}

std::optional<std::string> spec_error(const failure_spec& f) {
  if (!is_fraction(f.dropout))
    return "dropout is a probability in [0, 1], got " + number(f.dropout);
  return std::nullopt;
}

link_profile client_uplink(const link_spec& l, uint64_t seed, uint32_t client) {
  return client_link(l, seed, client, 0, l.up_bytes_per_sec);
}

link_profile client_downlink(const link_spec& l, uint64_t seed, uint32_t client) {
  return client_link(l, seed, client, 1, l.down_bytes_per_sec);
}

std::vector<uint32_t> straggler_clients(const device_spec& d, uint64_t seed,
                                        uint32_t client_count) {
  const uint32_t k = straggler_count(d, client_count);
  std::vector<std::pair<double, uint32_t>> draws(client_count);
  for (uint32_t c = 0; c < client_count; ++c) draws[c] = {straggler_draw(seed, c), c};
  std::partial_sort(draws.begin(), draws.begin() + k, draws.end());
  std::vector<uint32_t> out(k);
  for (uint32_t i = 0; i < k; ++i) out[i] = draws[i].second;
  std::sort(out.begin(), out.end());
  return out;
}

double client_gflops(const device_spec& d, uint64_t seed, uint32_t client, uint32_t client_count) {
  const double base = spread_gflops(d, seed, client);
  const uint32_t k = straggler_count(d, client_count);
  if (k == 0) return base;
  // client's rank among all draws, ties broken by id as in straggler_clients.
  const std::pair<double, uint32_t> mine{straggler_draw(seed, client), client};
  uint32_t rank = 0;
  for (uint32_t c = 0; c < client_count && rank < k; ++c) {
    if (std::pair<double, uint32_t>{straggler_draw(seed, c), c} < mine) ++rank;
  }
  return rank < k ? base / d.straggler_slowdown : base;
}

std::vector<double> fleet_gflops(const device_spec& d, uint64_t seed, uint32_t client_count) {
  std::vector<double> out(client_count);
  for (uint32_t c = 0; c < client_count; ++c) out[c] = spread_gflops(d, seed, c);
  for (uint32_t c : straggler_clients(d, seed, client_count)) out[c] /= d.straggler_slowdown;
  return out;
}

double round_speed_factor(const device_spec& d, uint64_t seed, uint32_t client, uint64_t round) {
  if (d.jitter == 0.0) return 1.0;
  const double u = uniform01({seed, purpose::speed_jitter, client}, round);
  return 1.0 + d.jitter * (2.0 * u - 1.0);
}

bool drops_out(const failure_spec& f, uint64_t seed, uint32_t client, uint64_t round) {
  return uniform01({seed, purpose::dropout, client}, round) < f.dropout;
}

// ---------------------------------------------------------------------------------------------
// Availability traces

const availability::client_trace* availability::find(uint32_t client) const {
  const auto it =
      std::lower_bound(clients_.begin(), clients_.end(), client,
                       [](const client_trace& c, uint32_t id) { return c.client < id; });
  return it != clients_.end() && it->client == client ? &*it : nullptr;
}

bool availability::available(uint32_t client, sim_time t) const {
  const client_trace* c = find(client);
  if (c == nullptr) return true;
  sim_time phase = t;
  if (period_.ns > 0) {
    phase.ns = t.ns % period_.ns;
    if (phase.ns < 0) phase.ns += period_.ns;
  }
  const auto passed =
      std::upper_bound(c->changes.begin(), c->changes.end(), phase) - c->changes.begin();
  return c->initially_on != (passed % 2 == 1);
}

sim_time availability::next_change(uint32_t client, sim_time t) const {
  const client_trace* c = find(client);
  if (c == nullptr || c->changes.empty()) return never;
  if (period_.ns == 0) {
    const auto it = std::upper_bound(c->changes.begin(), c->changes.end(), t);
    return it == c->changes.end() ? never : *it;
  }
  int64_t phase = t.ns % period_.ns;
  if (phase < 0) phase += period_.ns;
  const sim_time start{t.ns - phase};  // start of t's period
  const auto it = std::upper_bound(c->changes.begin(), c->changes.end(), sim_time{phase});
  if (it != c->changes.end()) return start + *it;
  return start + period_ + c->changes.front();
}

std::optional<sim_time> availability::loop_period() const {
  if (period_.ns == 0) return std::nullopt;
  return period_;
}

namespace {

constexpr std::string_view time_syntax =
    "a duration such as 90s, 1.5min or 250ms (units ns, us, ms, s, min, h) or a bare number of "
    "seconds";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Splits "<digits>[.<digits>]<suffix>" into the number and the suffix; nullopt if no number.
std::optional<std::pair<double, std::string_view>> split_number(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && is_digit(text[i])) ++i;
  if (i == 0) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    const size_t start = ++i;
    while (i < text.size() && is_digit(text[i])) ++i;
    if (i == start) return std::nullopt;
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + i, v, std::chars_format::fixed);
  if (ec != std::errc{} || end != text.data() + i || !std::isfinite(v)) return std::nullopt;
  return std::pair{v, text.substr(i)};
}

std::optional<sim_time> parse_trace_time(std::string_view text) {
  struct unit {
    std::string_view suffix;
    double ns;
  };
  static constexpr std::array<unit, 7> units = {
      {{"", 1e9}, {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"min", 60e9}, {"h", 3600e9}}};
  const auto num = split_number(text);
  if (!num) return std::nullopt;
  for (const unit& u : units) {
    if (u.suffix != num->second) continue;
    const double ns = std::round(num->first * u.ns);
    if (!(ns < 9.2e18)) return std::nullopt;  // beyond sim_time's range
    return sim_time{static_cast<int64_t>(ns)};
  }
  return std::nullopt;
}

std::optional<uint32_t> parse_client(std::string_view text) {
  uint32_t v = 0;
  if (text.empty() || !is_digit(text.front())) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

struct trace_record {
  uint32_t client;
  sim_time time;
  bool on;
  size_t line;
  std::string_view time_text;  // as written, for messages
};

std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

}  // namespace

result<availability> parse_availability(std::string_view text, const std::string& file_name) {
  const auto fail = [&](size_t line, const std::string& what) {
    return error_message{file_name + ":" + std::to_string(line) + ": " + what};
  };
  std::vector<trace_record> records;
  sim_time period{0};
  size_t period_line = 0;
  std::string_view period_text;
  bool first_record = true;
  size_t line_no = 0;
  while (!text.empty() || line_no == 0) {
    ++line_no;
    const size_t nl = text.find('\n');
    const std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;

    std::vector<std::string_view> fields;
    for (std::string_view rest = line;;) {
      const size_t comma = rest.find(',');
      fields.push_back(trim(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    const bool is_first = std::exchange(first_record, false);
    if (is_first && fields.size() == 3 && fields[0] == "client" && fields[1] == "time" &&
        fields[2] == "state")
      continue;
    if (fields[0] == "loop") {
      if (fields.size() != 2)
        return fail(line_no, "a loop line is \"loop,<period>\", got " + quoted(line));
      if (period_line != 0)
        return fail(line_no, "second loop line (the first is line " + std::to_string(period_line) +
                                 "); a trace has at most one period");
      const auto p = parse_trace_time(fields[1]);
      if (!p)
        return fail(line_no,
                    "loop period " + quoted(fields[1]) + " is not " + std::string(time_syntax));
      if (p->ns <= 0) return fail(line_no, "loop period must be > 0");
      period = *p;
      period_line = line_no;
      period_text = fields[1];
      continue;
    }
    if (fields.size() != 3)
      return fail(line_no, "expected \"client,time,state\" (3 fields), got " +
                               std::to_string(fields.size()) + " in " + quoted(line));
    const auto client = parse_client(fields[0]);
    if (!client)
      return fail(line_no, "client " + quoted(fields[0]) + " is not an id from 0 to 4294967295");
    const auto t = parse_trace_time(fields[1]);
    if (!t)
      return fail(line_no, "time " + quoted(fields[1]) + " is not " + std::string(time_syntax));
    if (fields[2] != "on" && fields[2] != "off")
      return fail(line_no, "state " + quoted(fields[2]) + " must be \"on\" or \"off\"");
    records.push_back({*client, *t, fields[2] == "on", line_no, fields[1]});
  }

  // Group by client, keeping file order within a client.
  std::stable_sort(
      records.begin(), records.end(),
      [](const trace_record& x, const trace_record& y) { return x.client < y.client; });
  availability out;
  out.period_ = period;
  for (size_t i = 0; i < records.size();) {
    size_t j = i;
    while (j < records.size() && records[j].client == records[i].client) ++j;
    // records[i, j): one client's records in file order.
    std::vector<std::pair<sim_time, bool>> states;  // (time, state), consecutive states differ
    for (size_t r = i; r < j; ++r) {
      const trace_record& rec = records[r];
      if (r > i && rec.time <= records[r - 1].time)
        return fail(rec.line, "client " + std::to_string(rec.client) + ": time " +
                                  quoted(rec.time_text) + " is not after its previous record's " +
                                  quoted(records[r - 1].time_text) + " (line " +
                                  std::to_string(records[r - 1].line) +
                                  "); a client's records must have increasing times");
      if (period.ns > 0 && rec.time >= period)
        return fail(rec.line, "time " + quoted(rec.time_text) + " is not before the loop period " +
                                  quoted(period_text) + " (line " + std::to_string(period_line) +
                                  "); looping traces describe one period");
      if (states.empty() || states.back().second != rec.on) states.push_back({rec.time, rec.on});
    }
    availability::client_trace c;
    c.client = records[i].client;
    if (period.ns == 0) {
      c.initially_on = !states.front().second;
    } else {
      // Periodic: before the first record the state wraps around from the last one, so the first
      // record is a change only if it differs from the last.
      c.initially_on = states.back().second;
      if (states.front().second == states.back().second) states.erase(states.begin());
    }
    for (const auto& s : states) c.changes.push_back(s.first);
    out.clients_.push_back(std::move(c));
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Byte rates

namespace {

struct rate_unit {
  std::string_view suffix;
  double bytes_per_sec;  // per unit
};

// Printing order: bits before bytes, larger before smaller, so ties keep the earlier.
constexpr std::array<rate_unit, 8> rate_units = {{
    {"Gbps", 1e9 / 8},
    {"Mbps", 1e6 / 8},
    {"kbps", 1e3 / 8},
    {"bps", 1.0 / 8},
    {"GBps", 1e9},
    {"MBps", 1e6},
    {"kBps", 1e3},
    {"Bps", 1.0},
}};

}  // namespace

std::optional<double> parse_rate(std::string_view text) {
  const auto num = split_number(text);
  if (!num) return std::nullopt;
  std::string_view suffix = num->second;
  std::string spelled(suffix);
  if (!spelled.empty() && spelled.front() == 'K') spelled.front() = 'k';  // "Kbps" = "kbps"
  for (const rate_unit& u : rate_units) {
    if (u.suffix == spelled) {
      const double v = num->first * u.bytes_per_sec;
      if (!std::isfinite(v)) return std::nullopt;
      return v;
    }
  }
  if (suffix.empty() && num->first == 0.0) return 0.0;
  return std::nullopt;
}

std::string format_rate(double bytes_per_sec) {
  if (bytes_per_sec == 0.0) return "0";
  // Whole numbers first ("500kbps" over "0.5Mbps"), then the shortest, then the table's order.
  std::string best;
  const auto rank = [](const std::string& s) {
    return std::pair{s.find('.') != std::string::npos, s.size()};
  };
  for (const rate_unit& u : rate_units) {
    const double v = bytes_per_sec / u.bytes_per_sec;
    std::array<char, 64> buf{};
    const auto [end, ec] =
        std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed);
    if (ec != std::errc{}) continue;
    std::string s(buf.data(), end);
    s += u.suffix;
    const auto back = parse_rate(s);
    if (!back || *back != bytes_per_sec) continue;
    if (best.empty() || rank(s) < rank(best)) best = std::move(s);
  }
  if (best.empty()) best = number(bytes_per_sec) + "Bps";  // not readable back (negative, NaN)
  return best;
}

std::string_view rate_syntax() {
  return "<number><unit>, unit bps, kbps, Mbps, Gbps (bits/s) or Bps, kBps, MBps, GBps (bytes/s), "
         "e.g. 10Mbps or 2.5MBps; 0 = unlimited";
}

}  // namespace baffle
